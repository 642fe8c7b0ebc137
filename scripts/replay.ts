/**
 * Replays workflow runs fetched from the Temporal server against the current workflow code.
 *
 *   npm run replay -- <workflowId> [--run-id <runId>]      one run (the latest by default)
 *   npm run replay -- --all [--since 24h|<ISO date>]        every running Spacebot run, and those closed since then
 *
 * Options: --workflows <entry.ts> replays against other workflow code; --json prints the outcomes
 * as JSON. The server is TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE, else the config file's
 * (SPACEBOT_CONFIG or ./spacebot.toml), else the embedded dev server's port on 127.0.0.1.
 * Exit status: 0 all replayed (or skipped), 1 a replay failed, 2 nothing could be replayed
 * (bad arguments, unknown workflow, server unreachable).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { pino } from 'pino';
import { loadConfig } from '../lib/config/load.js';
import { replayHistories, type HistoryReplayOutcome, type HistoryToReplay } from '../lib/replay/replay-histories.js';
import { parseSince } from '../lib/runs/query.js';
import { findRunsToReplay, runKey } from '../lib/runs/replay-runs.js';
import { installTemporalRuntime } from '../lib/temporal/runtime-logger.js';
import { findMasterKeys } from '../lib/secrets/master-key.js';
import { decodeHistory } from '../lib/temporal/decode-history.js';
import { AesGcmPayloadCodec } from '../lib/temporal/payload-codec.js';

// stdout carries the report (JSON with --json); the SDK's own logging goes to stderr.
installTemporalRuntime(pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2)));

const USAGE = 'usage: npm run replay -- <workflowId> [--run-id <runId>] | --all [--since 24h|<ISO date>]  [--workflows <entry.ts>] [--json]';

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      'run-id': { type: 'string' },
      all: { type: 'boolean' },
      since: { type: 'string' },
      workflows: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (err) {
  fail(`${(err as Error).message}\n${USAGE}`);
}
const { values, positionals } = parsed;
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (values.all ? positionals.length > 0 || values['run-id'] : positionals.length !== 1) fail(USAGE);
if (!values.all && values.since) fail('--since goes with --all');
const since = values.all ? parseSince(values.since ?? '24h') : undefined;
if (values.all && !since) fail(`--since: expected a duration like 24h, 90m, 7d or an ISO date, got "${values.since}"`);
const entry = values.workflows ? path.resolve(values.workflows) : undefined;

let config;
try {
  config = loadConfig();
} catch (err) {
  fail((err as Error).message);
}
const address = config.temporal.address ?? `127.0.0.1:${config.temporal.devServerPort}`;
const namespace = config.temporal.namespace;

let connection: Connection;
try {
  connection = await Connection.connect({ address, connectTimeout: '10 seconds' });
} catch (err) {
  fail(`cannot reach Temporal at ${address}: ${(err as Error).message}`);
}
// Histories recorded with `[temporal] encrypt_history` hold ciphertext (memo included): the master
// key (SPACEBOT_MASTER_KEY, or the data dir's key file) decodes them, never encodes anything here.
let codecs: AesGcmPayloadCodec[] = [];
try {
  const keys = findMasterKeys(config.dataDir);
  if (keys) codecs = [new AesGcmPayloadCodec(keys, { encrypt: false })];
} catch (err) {
  fail((err as Error).message);
}
const client = new Client({ connection, namespace, dataConverter: { payloadCodecs: codecs } });

let items: HistoryToReplay[];
try {
  if (values.all && since) {
    const runs = await findRunsToReplay(client, since);
    items = [];
    for (const run of runs) items.push({ id: runKey(run.workflowId, run.runId), history: await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory() });
  } else {
    const workflowId = positionals[0] as string;
    const handle = client.workflow.getHandle(workflowId, values['run-id']);
    const { runId } = await handle.describe();
    items = [{ id: runKey(workflowId, runId), history: await client.workflow.getHandle(workflowId, runId).fetchHistory() }];
  }
} catch (err) {
  await connection.close();
  if (err instanceof WorkflowNotFoundError) fail(`no workflow "${positionals[0]}"${values['run-id'] ? ` with run ${values['run-id']}` : ''} in namespace ${namespace}`);
  fail(`cannot read from Temporal at ${address}: ${(err as Error).message}`);
}
await connection.close();

// fetchHistory() gives what the server stores: decoded before the replay worker sees it.
try {
  items = await Promise.all(items.map(async (item) => ({ ...item, history: await decodeHistory(item.history, codecs) })));
} catch (err) {
  fail(`cannot decode the encrypted history: ${(err as Error).message}`);
}

const outcomes: HistoryReplayOutcome[] = await replayHistories(items, entry);
if (values.json) {
  process.stdout.write(`${JSON.stringify(outcomes)}\n`);
} else {
  for (const o of outcomes) process.stdout.write(`${o.skipped ? 'skip' : o.ok ? 'ok  ' : 'FAIL'} ${o.id}${o.ok ? '' : `: ${o.errorName}: ${o.error}`}\n`);
  const failed = outcomes.filter((o) => !o.ok).length;
  const skipped = outcomes.filter((o) => o.skipped).length;
  const what = values.all ? `runs (running, or closed since ${since?.toISOString()})` : 'run';
  process.stdout.write(`replayed ${outcomes.length} ${what}: ${outcomes.length - failed - skipped} ok, ${skipped} skipped, ${failed} failed\n`);
}
process.exit(outcomes.every((o) => o.ok) ? 0 : 1);
