import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '../../lib/seeded-random.js';
import { chaosAgent } from './fake-agent.js';
import { runChaosSchedule, type ChaosEvent } from './killer.js';
import { Ledger } from './ledger.js';
import type { ChaosReport } from './report.js';
import { startTopology, type Topology } from './topology.js';
import { Traffic } from './traffic.js';

/**
 * One chaos run: the topology up, 50 conversations sending at random while processes are killed and
 * servers restarted, then a drain (everything running again, waiting for the last answers), then the
 * count. Used by `npm run chaos` (bench/chaos.ts) and the short CI run (test/chaos/chaos-short.test.ts).
 */
export interface ChaosOptions {
  messages: number;
  conversations: number;
  /** Of the conversations, how many talk through Telegram (the rest through the API). */
  telegramConversations: number;
  /** How long the traffic (and the chaos beside it) lasts. */
  durationMs: number;
  kills: number;
  temporalRestart: boolean;
  postgresRestart: boolean;
  /** After the traffic: how long to wait for the last answers. */
  drainMs: number;
  /** After every message was answered: how long to keep looking for doubles. */
  settleMs: number;
  seed: number;
  apis: number;
  workers: number;
  keepDir: boolean;
  log: (line: string) => void;
}

const COLLECT_EVERY_MS = 250;

export async function runChaosRun(opts: ChaosOptions): Promise<ChaosReport> {
  const { log } = opts;
  const random = seededRandom(opts.seed);
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-chaos-'));
  log(`chaos: run directory ${runDir} (logs of every process), seed ${opts.seed}`);
  let topology: Topology | undefined;
  // Whatever happens to this process, nothing it started outlives it.
  const killAll = () => {
    topology?.killNow();
    if (!opts.keepDir) rmSync(runDir, { recursive: true, force: true });
  };
  process.once('exit', killAll);
  const ledger = new Ledger();
  let traffic: Traffic | undefined;
  let stopped = false;
  let collecting: Promise<void> | undefined;
  try {
    topology = await startTopology({ runDir, apis: opts.apis, workers: opts.workers, gateway: opts.telegramConversations > 0, llm: chaosAgent, log });
    const t = topology;
    traffic = new Traffic({ telegram: t.telegram, apiUrls: t.apiUrls, token: t.token, ledger, conversations: opts.conversations, telegramConversations: opts.telegramConversations, random, log });
    const tr = traffic;
    collecting = (async () => {
      while (!stopped) {
        await tr.collect();
        await sleep(COLLECT_EVERY_MS);
      }
    })();

    log(`chaos: ${opts.messages} messages from ${opts.conversations} conversations over ${opts.durationMs / 1000} s; ${opts.kills} kills${opts.temporalRestart ? ', a Temporal restart' : ''}${opts.postgresRestart ? ', a PostgreSQL restart' : ''}`);
    const progress = setInterval(() => {
      const c = ledger.counts();
      log(`chaos: ${c.sent} sent, ${c.answeredOnce} answered once, ${c.doubled} doubled, ${ledger.unanswered().length} waiting`);
    }, 15_000);
    let events: ChaosEvent[];
    try {
      [events] = await Promise.all([
        runChaosSchedule({ topology: t, kills: opts.kills, durationMs: opts.durationMs, temporalRestart: opts.temporalRestart, postgresRestart: opts.postgresRestart, random, log }, () => stopped),
        tr.run(opts.messages, opts.durationMs),
      ]);

      // Drain: every process up again, then the last answers.
      await Promise.all([...t.processes.keys()].map((name) => t.ensureRunning(name)));
      const drainEnd = Date.now() + opts.drainMs;
      while (Date.now() < drainEnd && (ledger.unanswered().length > 0 || ledger.counts().notAccepted > 0)) await sleep(500);
      await tr.close();
      await sleep(opts.settleMs);
      await tr.collect();
    } finally {
      clearInterval(progress);
    }

    const counts = ledger.counts();
    const messages = [...ledger.sent.values()];
    return {
      settings: { ...opts, log: undefined },
      counts,
      kills: events.filter((e) => e.what.startsWith('kill')).length,
      temporalRestarts: events.filter((e) => e.what.startsWith('Temporal')).length,
      postgresRestarts: events.filter((e) => e.what.startsWith('PostgreSQL')).length,
      unexpectedExits: t.unexpectedExits.length,
      events,
      lostSample: messages.filter((m) => m.answers.length === 0).slice(0, 20),
      doubledSample: messages.filter((m) => m.answers.length > 1).slice(0, 20),
      pass: counts.lost === 0 && counts.doubled === 0 && counts.notAccepted === 0,
      runDir,
    };
  } finally {
    stopped = true;
    await traffic?.close();
    await collecting;
    await topology?.stop();
    process.removeListener('exit', killAll);
    if (!opts.keepDir) rmSync(runDir, { recursive: true, force: true });
  }
}
