/**
 * `tsx scripts/replay-histories.ts [--workflows <entry.ts>] [--json] <history.json>...`
 * Replays saved histories against the current workflow code and exits 1 if any fails.
 */
import path from 'node:path';
import { pino } from 'pino';
import { replayHistoryFiles } from '../lib/replay/replay-histories.js';
import { installTemporalRuntime } from '../lib/temporal/runtime-logger.js';

// stdout carries the report (JSON with --json); the SDK's own logging goes to stderr.
installTemporalRuntime(pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2)));

const args = process.argv.slice(2);
const json = args.includes('--json');
const at = args.indexOf('--workflows');
const entry = at >= 0 && args[at + 1] ? path.resolve(args[at + 1] as string) : undefined;
const files = args.filter((a, i) => !a.startsWith('--') && (at < 0 || i !== at + 1));
if (!files.length) {
  console.error('usage: replay-histories [--workflows <entry>] [--json] <history.json>...');
  process.exit(2);
}
const outcomes = await replayHistoryFiles(files, entry);
if (json) process.stdout.write(`${JSON.stringify(outcomes)}\n`);
else for (const o of outcomes) process.stdout.write(`${o.skipped ? 'skip' : o.ok ? 'ok  ' : 'FAIL'} ${o.file}${o.ok ? '' : `: ${o.errorName}: ${o.error}`}\n`);
process.exit(outcomes.every((o) => o.ok) ? 0 : 1);
