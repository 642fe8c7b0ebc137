import { setTimeout as sleep } from 'node:timers/promises';
import type { Role, Topology } from './topology.js';

/**
 * The chaos schedule: `kills` kill -9s of API, worker and gateway processes spread over `durationMs`
 * (the first ones cover every role present, in random order; later ones a random role; `victims`
 * says who may be killed), each victim started again 0.5–3 s later; plus, when asked, one Temporal
 * server restart at about a third of the run and one PostgreSQL restart at about two thirds. Events run one after another, so
 * the schedule is bounded by its duration plus the last restart.
 */
export interface KillerOptions {
  topology: Topology;
  kills: number;
  durationMs: number;
  temporalRestart: boolean;
  postgresRestart: boolean;
  random: () => number;
  log: (line: string) => void;
}

export interface ChaosEvent {
  atMs: number;
  what: string;
  /** How long the action itself took (a kill: until the process was gone; a restart: until the server answered). */
  tookMs: number;
}

type Planned = { at: number; action: 'kill'; role: Role } | { at: number; action: 'temporal' | 'postgres' };

export function planChaos(opts: Pick<KillerOptions, 'kills' | 'durationMs' | 'temporalRestart' | 'postgresRestart' | 'random'>, roles: Role[]): Planned[] {
  const { random, kills, durationMs } = opts;
  const present = [...new Set(roles)];
  const first = present.map((role) => ({ role, key: random() })).sort((a, b) => a.key - b.key).map((x) => x.role);
  const plan: Planned[] = [];
  const gap = durationMs / (kills + 1);
  for (let i = 0; i < kills; i++) {
    const role = i < first.length ? first[i]! : roles[Math.floor(random() * roles.length)]!;
    plan.push({ at: gap * (i + 1) + (random() - 0.5) * gap * 0.5, action: 'kill', role });
  }
  if (opts.temporalRestart) plan.push({ at: durationMs * 0.35, action: 'temporal' });
  if (opts.postgresRestart) plan.push({ at: durationMs * 0.65, action: 'postgres' });
  return plan.sort((a, b) => a.at - b.at);
}

/**
 * Who may be killed now: a process that serves (killing one still starting would test nothing new)
 * and, where the role has several, not its last serving one, so kills alone never stop a role for the
 * whole ~minute a restart takes on a loaded machine. The planned role first, else any role.
 */
function victims(topology: Topology, byRole: Map<Role, string[]>, planned: Role): string[] {
  const allowed = (role: Role) => {
    const names = byRole.get(role) ?? [];
    const ready = names.filter((n) => topology.isReady(n));
    return names.length > 1 && ready.length < 2 ? [] : ready;
  };
  const first = allowed(planned);
  return first.length ? first : [...byRole.keys()].flatMap(allowed);
}

export async function runChaosSchedule(opts: KillerOptions, stopped: () => boolean): Promise<ChaosEvent[]> {
  const { topology, random, log } = opts;
  const byRole = new Map<Role, string[]>();
  for (const [name, { role }] of topology.processes) byRole.set(role, [...(byRole.get(role) ?? []), name]);
  // Weighted by how many of each there are: two APIs are killed about twice as often as the gateway.
  const roles = [...topology.processes.values()].map((p) => p.role);
  const plan = planChaos(opts, roles);
  const events: ChaosEvent[] = [];
  const start = Date.now();
  for (const step of plan) {
    if (stopped()) break;
    const wait = start + step.at - Date.now();
    if (wait > 0) await sleep(wait);
    const began = Date.now();
    let what: string;
    if (step.action === 'kill') {
      const names = victims(topology, byRole, step.role);
      if (names.length === 0) {
        log(`chaos: ${((Date.now() - start) / 1000).toFixed(1)} s no process serves right now; kill skipped`);
        continue;
      }
      const name = names[Math.floor(random() * names.length)]!;
      const pid = topology.processes.get(name)!.proc.pid;
      await topology.kill9(name, 500 + random() * 2_500);
      what = `kill -9 ${name} (pid ${pid})`;
    } else if (step.action === 'temporal') {
      await topology.restartTemporal();
      what = 'Temporal server restart (SIGKILL, start on the same SQLite file)';
    } else {
      await topology.restartPostgres();
      what = 'PostgreSQL restart (immediate shutdown, crash recovery)';
    }
    const event = { atMs: began - start, what, tookMs: Date.now() - began };
    events.push(event);
    log(`chaos: ${(event.atMs / 1000).toFixed(1)} s ${what} (${event.tookMs} ms)`);
  }
  return events;
}
