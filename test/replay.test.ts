import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ReplayOutcome } from '../lib/replay/replay-histories.js';
import { HISTORY_FIXTURES_DIR, listHistoryFixtures } from './helpers/fixture-layout.js';

/**
 * Replays every history saved from the integration tests, of every release (test/fixtures/histories/
 * and its per-release directories, see helpers/fixture-layout.ts), against the current workflow code.
 * A change that would break determinism for conversations already running in production fails here,
 * before it is deployed. The replay runs in its own process: Jest's module sandbox breaks
 * protobufjs's JSON decoding of histories.
 */
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const relative = listHistoryFixtures();
const fixtures = relative.map((f) => path.join(HISTORY_FIXTURES_DIR, f));

async function replay(extra: string[]): Promise<{ code: number; outcomes: ReplayOutcome[] }> {
  const args = ['--import', 'tsx', path.join(ROOT, 'scripts/replay-histories.ts'), '--json', ...extra, ...fixtures];
  try {
    const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, outcomes: JSON.parse(stdout) as ReplayOutcome[] };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (!e.stdout) throw new Error(`replay script failed: ${e.stderr ?? String(err)}`);
    return { code: e.code ?? 1, outcomes: JSON.parse(e.stdout) as ReplayOutcome[] };
  }
}

interface HistoryEvent {
  eventId?: string;
  eventType?: string;
  workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } };
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
  activityTaskCompletedEventAttributes?: { scheduledEventId?: string };
}

function eventsOf(file: string): HistoryEvent[] {
  return (JSON.parse(readFileSync(file, 'utf8')) as { events?: HistoryEvent[] }).events ?? [];
}

/** The workflow type a recorded history starts, and the activities (not local ones) that completed in it. */
function summaryOf(file: string): { type?: string; completedActivities: string[] } {
  const events = eventsOf(file);
  const scheduled = new Map(events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [e.eventId, e.activityTaskScheduledEventAttributes?.activityType?.name]));
  return {
    type: events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name,
    completedActivities: [...new Set(events.filter((e) => e.activityTaskCompletedEventAttributes).map((e) => scheduled.get(e.activityTaskCompletedEventAttributes?.scheduledEventId) ?? '?'))],
  };
}

/**
 * Recorded from real runs (RECORD_HISTORIES=1) by the tests named here, so that the kinds of run the
 * 0.1.0 set lacked are replayed too: each with the activities that make it what it is.
 */
const COVERAGE: [file: string, type: string, activities: string[], recordedBy: string][] = [
  ['0.1.0/telegram-reply.json', 'channelWorkflow', ['callModel', 'deliverReply'], 'test/adapters/telegram-e2e.test.ts'],
  ['0.1.0/heartbeat-to-channel.json', 'heartbeatWorkflow', ['callModel', 'deliverHeartbeat'], 'test/integration/heartbeats.test.ts'],
  ['0.1.0/cortex-passes-and-breaker.json', 'cortexWorkflow', ['decayMemories', 'pruneMemories', 'mergeMemories', 'linkMemories', 'renderMemoryContext'], 'test/cortex/cortex-workflow.test.ts'],
  ['0.1.0/ingestion-markdown.json', 'ingestionWorkflow', ['prepareIngestion', 'ingestChunk', 'finishIngestion'], 'test/ingest/ingestion.test.ts'],
];

test('there are saved histories to replay', () => {
  expect(fixtures.length).toBeGreaterThanOrEqual(8);
});

test.each(COVERAGE)('%s is a recorded %s whose %j activities completed (from %s)', (file, type, activities) => {
  const summary = summaryOf(path.join(HISTORY_FIXTURES_DIR, file));
  expect(summary.type).toBe(type);
  expect(summary.completedActivities).toEqual(expect.arrayContaining(activities));
});

test('every saved history of every release replays against the current workflow code', async () => {
  const { code, outcomes } = await replay([]);
  expect(outcomes.filter((o) => !o.ok)).toEqual([]);
  expect(outcomes.filter((o) => o.skipped)).toEqual([]);
  expect(outcomes.map((o) => o.file).sort()).toEqual([...fixtures].sort());
  expect(code).toBe(0);
}, 120_000);

test('a workflow changed incompatibly fails the replay', async () => {
  const { code, outcomes } = await replay(['--workflows', path.join(ROOT, 'test/fixtures/altered-workflows/index.ts')]);
  expect(code).toBe(1);
  expect(outcomes).toHaveLength(fixtures.length);
  expect(outcomes.filter((o) => o.ok || o.errorName !== 'DeterminismViolationError')).toEqual([]);
}, 120_000);
