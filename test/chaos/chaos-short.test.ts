import { formatReport, type ChaosReport } from '../../bench/chaos/report.js';
import { runChaosRun } from '../../bench/chaos/run.js';

/**
 * The short chaos run of CI: the production topology as separate OS processes (Temporal dev server,
 * private PostgreSQL, 2 API processes, 2 worker processes, the gateway on the fake Telegram Bot API)
 * while 50 conversations send messages, with at least one kill -9 of each of API, worker and gateway,
 * a Temporal restart and a PostgreSQL restart. Every message must be answered exactly once.
 * The full run is `npm run chaos` (docs/processes.md, "Chaos and soak").
 */
let report: ChaosReport;

beforeAll(async () => {
  report = await runChaosRun({
    messages: Number(process.env.CHAOS_MESSAGES ?? 80),
    conversations: 50,
    telegramConversations: 40,
    durationMs: 60_000,
    kills: 4,
    temporalRestart: true,
    postgresRestart: true,
    drainMs: 150_000,
    settleMs: 5_000,
    seed: Number(process.env.CHAOS_SEED ?? 20_261_207),
    apis: 2,
    workers: 2,
    keepDir: process.env.CHAOS_KEEP_DIR === '1',
    log: (line) => void process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`${formatReport(report)}\n`);
}, 420_000);

test('every kind of process was killed and both servers restarted while messages flowed', () => {
  const killed = report.events.filter((e) => e.what.startsWith('kill -9')).map((e) => /kill -9 (\w+)-?\d*/.exec(e.what)?.[1]);
  expect(new Set(killed)).toEqual(new Set(['api', 'worker', 'gateway']));
  expect(report.temporalRestarts).toBe(1);
  expect(report.postgresRestarts).toBe(1);
  expect(report.counts.sent).toBeGreaterThanOrEqual(80);
});

test('no message is lost and none is answered twice', () => {
  const { counts } = report;
  expect({ lost: counts.lost, doubled: counts.doubled, notAccepted: counts.notAccepted, strayReplies: counts.strayReplies }).toEqual({ lost: 0, doubled: 0, notAccepted: 0, strayReplies: 0 });
  expect(counts.answeredOnce).toBe(counts.sent);
});
