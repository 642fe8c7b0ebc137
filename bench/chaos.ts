/**
 * `npm run chaos`: the production topology without Docker (a Temporal dev server, a private
 * PostgreSQL, 2 API processes, 2 worker processes and the chat gateway against the fake Telegram Bot
 * API, each its own OS process) while 50 conversations send messages at random, with random kill -9s
 * of API, worker and gateway processes, one Temporal restart and one PostgreSQL restart. Reports
 * messages sent, answered exactly once, lost, doubled and the worst time to answer; exits 1 when
 * anything was lost or doubled. See docs/processes.md, "Chaos and soak".
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatReport } from './chaos/report.js';
import { runChaosRun } from './chaos/run.js';
import { intEnv } from './env.js';

const short = process.argv.includes('--short');
const messages = intEnv('CHAOS_MESSAGES', short ? 100 : 1_000);
const conversations = intEnv('CHAOS_CONVERSATIONS', 50);
const options = {
  messages,
  conversations,
  telegramConversations: Math.min(conversations, intEnv('CHAOS_TELEGRAM_CONVERSATIONS', Math.round(conversations * 0.8), 0)),
  durationMs: intEnv('CHAOS_DURATION_S', short ? 90 : 600) * 1000,
  kills: intEnv('CHAOS_KILLS', short ? 6 : 60, 0),
  temporalRestart: process.env.CHAOS_TEMPORAL_RESTART !== '0',
  postgresRestart: process.env.CHAOS_POSTGRES_RESTART !== '0',
  drainMs: intEnv('CHAOS_DRAIN_S', 180) * 1000,
  settleMs: intEnv('CHAOS_SETTLE_S', 10, 0) * 1000,
  seed: intEnv('CHAOS_SEED', Date.now() % 1_000_000, 0),
  apis: 2,
  workers: 2,
  keepDir: process.env.CHAOS_KEEP_DIR === '1',
  log: (line: string) => void process.stdout.write(`${line}\n`),
};

// Ctrl-C: the run's exit handler kill -9s every process group it started and removes its directory.
process.once('SIGINT', () => {
  process.stdout.write('chaos: interrupted\n');
  process.exit(130);
});

try {
  const report = await runChaosRun(options);
  process.stdout.write(`${formatReport(report)}\n`);
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `chaos-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`results: ${path.relative(process.cwd(), file)}${options.keepDir ? `; process logs in ${report.runDir}` : ''}\n`);
  process.exitCode = report.pass ? 0 : 1;
} catch (err) {
  console.error(`chaos failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
}
