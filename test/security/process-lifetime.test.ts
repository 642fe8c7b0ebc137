import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually } from '../helpers/harness.js';
import { canListen, freePorts } from '../helpers/ports.js';
import { startSpacebotProcess, waitForOutput, type SpacebotProcess } from './spacebot-entry.js';

/**
 * Issue 13, finding 1: `kill -9` of Spacebot left the embedded Temporal dev server running with its
 * ports, and the next `npm start` failed until it was killed by hand. Through the real entry point:
 * the dev server dies with Spacebot, and one orphaned anyway is reaped by the next start.
 */

let scratch: string;
const running: SpacebotProcess[] = [];
/** Processes a test stopped or orphaned on purpose: killed at the end whatever happened. */
const strays = new Set<number>();

beforeAll(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'spacebot-lifetime-'));
});
afterAll(() => {
  for (const s of running) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  for (const pid of strays) signal(pid, 'SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    // A zombie still answers kill(0) but holds no ports any more: count it as gone.
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The process state letter of /proc/<pid>/stat (R, S, T for stopped, Z, ...). */
function stateOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

let count = 0;
async function setup() {
  const dir = path.join(scratch, `run-${count++}`);
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(path.join(dir, 'spacebot.toml'), '[[agents]]\nid = "main"\n');
  const [apiPort, temporalPort, uiPort] = (await freePorts(3)) as [number, number, number];
  const env = {
    SPACEBOT_CONFIG: path.join(dir, 'spacebot.toml'),
    SPACEBOT_DATA_DIR: dataDir,
    SPACEBOT_PORT: String(apiPort),
    SPACEBOT_TEMPORAL_PORT: String(temporalPort),
    SPACEBOT_TEMPORAL_UI_PORT: String(uiPort),
  };
  const start = async () => {
    const started = startSpacebotProcess(env);
    running.push(started);
    await waitForOutput(started, 'API listening');
    return started;
  };
  /** The dev server's pid, as the running Spacebot recorded it under the data directory. */
  const devServerPid = () => (JSON.parse(readFileSync(path.join(dataDir, 'temporal-dev-server.json'), 'utf8')) as { pid: number }).pid;
  /** A second start on the same data dir and ports comes up and answers /health; then it stops cleanly. */
  const restartAnswersHealth = async () => {
    const second = await start();
    const health = await fetch(`http://127.0.0.1:${apiPort}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(await canListen(temporalPort)).toBe(true);
  };
  return { start, devServerPid, temporalPort, uiPort, restartAnswersHealth };
}

test('SIGKILL of Spacebot takes the dev server with it, and the next start reaches /health', async () => {
  const s = await setup();
  const first = await s.start();
  const pid = s.devServerPid();
  strays.add(pid);
  expect(alive(pid)).toBe(true);

  first.child.kill('SIGKILL');
  expect(await first.exited).toBe('SIGKILL');
  // Bounded wait, not a timing assertion: the server goes as soon as its supervisor sees the parent gone.
  await eventually(async () => ((await canListen(s.temporalPort)) && !alive(pid) ? true : undefined), 60_000, 'the dev server to go');
  expect(await canListen(s.uiPort)).toBe(true);

  await s.restartAnswersHealth();
}, 900_000);

test('a dev server orphaned together with its supervisor is reaped by the next start', async () => {
  const s = await setup();
  const first = await s.start();
  const pid = s.devServerPid();
  strays.add(pid);
  const supervisor = parentOf(pid);
  expect(supervisor).not.toBe(first.child.pid);
  strays.add(supervisor);

  // Both die at once (as with the OOM killer or a kill of the whole cgroup), neither able to act on
  // the other's death: Spacebot is frozen (the kernel shows it stopped), the supervisor killed, then
  // Spacebot. Not the other way round: a supervisor killed while stopped leaves its process group
  // orphaned with a stopped member, and the kernel then sends the server SIGHUP (POSIX job control),
  // so there would be no orphan to reap.
  const main = first.child.pid!;
  signal(main, 'SIGSTOP');
  await eventually(() => (stateOf(main) === 'T' ? true : undefined), 10_000, 'Spacebot to stop');
  signal(supervisor, 'SIGKILL');
  await eventually(() => (alive(supervisor) ? undefined : true), 10_000, 'the supervisor to go');
  first.child.kill('SIGKILL');
  await first.exited;
  // The scenario is real: the orphan still holds the port.
  expect(alive(pid)).toBe(true);
  expect(await canListen(s.temporalPort)).toBe(false);

  await s.restartAnswersHealth();
  expect(alive(pid)).toBe(false);
}, 900_000);
