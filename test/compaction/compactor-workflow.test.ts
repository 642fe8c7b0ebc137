import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities/index.js';
import type { CallModelInput, CompactorInput, CompactorResult, DeliverReplyInput, ModelStep, TruncateContextResult } from '../../activities/contract.js';
import { OutboundAdapters } from '../../adapters/outbound.js';
import { WebhookOutbound } from '../../adapters/webhook.js';
import { contextWindowFor } from '../../lib/compaction/context-window.js';
import { contextTokensOf } from '../../lib/compaction/tokens.js';
import { ProviderRegistry } from '../../lib/llm/registry.js';
import { createLogger } from '../../lib/logger.js';
import { compactionAction, type CompactionAction } from '../../workflows/compaction-policy.js';
import type { NeutralRequest, ScriptStep } from '../fake-llm/server.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';

/**
 * The compactor end to end on the real dev server: a channel's turns run through the channel's own
 * activities (recordInbound, callModel against the fake LLM, deliverReply for the `reply` tool call,
 * which stores the call's result), the reported context size crosses each threshold of a small
 * configured window, and the policy's action is carried out: two summaries by the compactor
 * workflow, then a truncation. (The turns are driven activity by activity, as channelWorkflow does,
 * so this suite does not depend on how the channel decides to start the compactor.)
 */

const MODEL = 'anthropic/claude-haiku-5-5';
const WINDOW = 2000;
const conversation = 'compaction';
const channelId = `channel:main:webhook:${conversation}`;

let h: Harness;
/** Input tokens the fake model reports for a message's call, by message number (default: well below 80 %). */
const reportedInput = new Map<number, number>();
const compactorRequests: NeutralRequest[] = [];
const channelRequests: NeutralRequest[] = [];
/** Holds the compactor model's answer until the test lets it go. */
let summaryGate: Promise<void> = Promise.resolve();
let summaries = 0;

function respond(req: NeutralRequest): ScriptStep | Promise<ScriptStep> {
  if (req.system.includes('You are the memory of')) {
    compactorRequests.push(req);
    const n = ++summaries;
    return summaryGate.then(() => ({ text: `SUMMARY v${n}: people sent numbered messages and got replies.`, usage: { input: 400, output: 30 } }));
  }
  channelRequests.push(req);
  if (req.messages[req.messages.length - 1]?.role === 'tool') return { text: '' };
  const n = Number(/message (\d+)/.exec(req.lastUserText)?.[1]);
  return { toolCalls: [{ name: 'reply', input: { text: `reply ${n}` } }], usage: { input: reportedInput.get(n) ?? 500, output: 20 } };
}

let activities: ReturnType<typeof createActivities>;

function activityEnv(activityId: string): MockActivityEnvironment {
  const now = Date.now();
  return new MockActivityEnvironment({
    activityId,
    workflowExecution: { workflowId: channelId, runId: 'run-1' },
    // As the channel schedules an LLM call (workflows/activity-options.ts LLM_OPTIONS).
    scheduledTimestampMs: now,
    currentAttemptScheduledTimestampMs: now,
    startToCloseTimeoutMs: 3 * 60_000,
    scheduleToCloseTimeoutMs: 10 * 60_000,
  });
}

/** One channel turn, as channelWorkflow runs it: the inbound, one LLM call, its reply tool call delivered. */
async function send(n: number): Promise<void> {
  const key = { channelId, agentId: 'main', platform: 'webhook', conversationId: conversation };
  await activityEnv(`inbound-${n}`).run(activities.recordInbound, { ...key, turnSeq: n, messages: [{ messageId: `m-${n}`, text: `message ${n}`, receivedAt: new Date().toISOString() }] });
  const input: CallModelInput = { channelId, agentId: 'main', turnSeq: n, step: 1 };
  const step: ModelStep = await activityEnv(`llm-${n}`).run(activities.callModel, input);
  expect(step.toolCalls.map((c) => c.name)).toEqual(['reply']);
  for (const [idx, call] of step.toolCalls.entries()) {
    const reply: DeliverReplyInput = { ...key, turnSeq: n, step: 1, key: `tool:${call.id}`, text: String(call.input.text), kind: 'reply', toolCallId: call.id, toolCallIdx: idx };
    await activityEnv(`deliver-${n}-${idx}`).run(activities.deliverReply, reply);
  }
}

/** What the policy says after the channel's latest call, from the usage the ledger recorded. */
async function actionAfterLastCall(): Promise<{ action: CompactionAction; used: number }> {
  const row = await h.database.db
    .selectFrom('llm_calls')
    .select(['input_tokens', 'cache_read_tokens', 'cache_write_tokens', 'provider', 'model'])
    .where('channel_id', '=', channelId)
    .where('process', '=', 'channel')
    .orderBy('id', 'desc')
    .executeTakeFirstOrThrow();
  const used = contextTokensOf({ inputTokens: row.input_tokens, cacheReadTokens: row.cache_read_tokens, cacheWriteTokens: row.cache_write_tokens });
  return { action: compactionAction(used, contextWindowFor(h.config, `${row.provider}/${row.model}`)), used };
}

function runCompactor(input: CompactorInput, suffix: string) {
  return h.env.client.workflow.start<(input: CompactorInput) => Promise<CompactorResult>>('compactorWorkflow', {
    workflowId: `compactor:${channelId}:${suffix}`,
    taskQueue: h.config.temporal.taskQueue,
    args: [input],
  });
}

async function turnsInContext(): Promise<number[]> {
  const rows = await h.database.db.selectFrom('context_entries').select('turn_seq').distinct().where('channel_id', '=', channelId).orderBy('turn_seq').execute();
  return rows.map((r) => r.turn_seq);
}

const firstUserText = (req: NeutralRequest | undefined) => req?.messages.find((m) => m.role === 'user')?.text ?? '';

beforeAll(async () => {
  h = await createHarness({ toml: `\n[models."${MODEL}"]\ncontext_window = ${WINDOW}\n` });
  h.fake.script(respond);
  const logger = createLogger('test', process.env.LOG_LEVEL ?? 'silent');
  activities = createActivities({ config: h.config, db: h.database.db, providers: new ProviderRegistry(h.config.providers), outbound: new OutboundAdapters([new WebhookOutbound()]), logger });
});
afterAll(async () => {
  await h?.close();
});

test('at 80 % the compactor summarises the oldest 30 % of turns while the channel keeps answering', async () => {
  reportedInput.set(10, 1650);
  for (let n = 1; n <= 10; n++) await send(n);
  const { action, used } = await actionAfterLastCall();
  expect(action).toMatchObject({ kind: 'summarise', fraction: 0.3 });
  if (action.kind !== 'summarise') return;

  let release = () => {};
  summaryGate = new Promise<void>((resolve) => (release = resolve));
  const handle = await runCompactor({ agentId: 'main', channelId, fraction: action.fraction, throughTurn: 10, usedTokens: used, contextWindow: WINDOW }, '1');
  // The channel answers a new message while the summary is still being written (the compactor model
  // holds its answer until released).
  await eventually(async () => (compactorRequests.length === 1 ? true : undefined), 20_000, 'the compactor to ask for a summary');
  await send(11);
  release();
  const result = await handle.result();

  expect(result).toMatchObject({ outcome: 'compacted', fromTurn: 1, throughTurn: 3, turnsArchived: 3, entriesArchived: 9, tokensBefore: 1650, model: MODEL });
  expect(result.tokensAfter).toBeLessThan(result.tokensBefore);

  // History: the four steps as activities, in order, and a completed run.
  const history = await handle.fetchHistory();
  const scheduled = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : []));
  expect(scheduled).toEqual(['planCompaction', 'archiveTurns', 'summariseTurns', 'applyCompaction']);
  expect((history.events ?? []).filter((e) => e.activityTaskCompletedEventAttributes)).toHaveLength(4);
  expect(history.events?.some((e) => e.workflowExecutionCompletedEventAttributes)).toBe(true);

  // The summariser read exactly the archived turns, as a transcript, with the compactor prompt.
  expect(compactorRequests).toHaveLength(1);
  const asked = compactorRequests[0]?.lastUserText ?? '';
  expect(asked).toMatch(/message 1\b[\s\S]*Assistant called reply[\s\S]*message 3\b/);
  expect(asked).not.toMatch(/message 4\b/);
  expect(compactorRequests[0]?.tools).toEqual([]);

  // Rows: the archive holds turns 1–3 raw (inbound, reply call, its result), the summary replaced them,
  // and turn 11, written while the compactor ran, survived.
  const archive = await h.database.db.selectFrom('conversation_archives').selectAll().where('channel_id', '=', channelId).executeTakeFirstOrThrow();
  expect(archive).toMatchObject({ from_turn: 1, through_turn: 3, reason: 'summarise', entry_count: 9 });
  const archived = archive.entries as { turnSeq: number; role: string }[];
  expect(archived.map((e) => `${e.turnSeq}:${e.role}`)).toEqual(['1:user', '1:assistant', '1:tool', '2:user', '2:assistant', '2:tool', '3:user', '3:assistant', '3:tool']);
  const summary = await h.database.db.selectFrom('context_summaries').selectAll().where('channel_id', '=', channelId).executeTakeFirstOrThrow();
  expect(summary).toMatchObject({ kind: 'summary', from_turn: 1, through_turn: 3, model: MODEL, archive_id: archive.id });
  expect(summary.content).toMatch(/^SUMMARY v1/);
  expect(await turnsInContext()).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
  const ledger = await h.database.db.selectFrom('llm_calls').selectAll().where('channel_id', '=', channelId).where('process', '=', 'compactor').execute();
  expect(ledger).toEqual([expect.objectContaining({ agent_id: 'main', provider: 'anthropic', model: 'claude-haiku-5-5', input_tokens: 400, output_tokens: 30 })]);
});

test('at 85 % the next compaction takes half of the turns and folds in the previous summary', async () => {
  reportedInput.set(12, 1750);
  const before = channelRequests.length;
  await send(12);
  // The channel's next call already reads the summary first, then the turns after it.
  const request = channelRequests[before];
  expect(firstUserText(request)).toContain('SUMMARY v1');
  expect(firstUserText(request)).toContain('message 4');
  expect(JSON.stringify(request?.messages)).not.toMatch(/message 3\b/);

  const { action, used } = await actionAfterLastCall();
  expect(action).toMatchObject({ kind: 'summarise', fraction: 0.5 });
  if (action.kind !== 'summarise') return;
  const result = await (await runCompactor({ agentId: 'main', channelId, fraction: action.fraction, throughTurn: 12, usedTokens: used, contextWindow: WINDOW }, '2')).result();
  // Turns 4–12 are in the context: half of nine, rounded up to whole turns, is 4–8.
  expect(result).toMatchObject({ outcome: 'compacted', fromTurn: 4, throughTurn: 8, turnsArchived: 5, entriesArchived: 15 });
  expect(compactorRequests[1]?.lastUserText).toMatch(/<previous_summary>\nSUMMARY v1[\s\S]*message 4\b[\s\S]*message 8\b/);
  const latest = await h.database.db.selectFrom('context_summaries').selectAll().where('channel_id', '=', channelId).orderBy('through_turn', 'desc').executeTakeFirstOrThrow();
  expect(latest).toMatchObject({ kind: 'summary', from_turn: 1, through_turn: 8 });
  expect(await turnsInContext()).toEqual([9, 10, 11, 12]);
});

test('at 95 % the channel truncates the oldest half at once, without an LLM call, leaving a marker', async () => {
  reportedInput.set(13, 1950);
  await send(13);
  const { action } = await actionAfterLastCall();
  expect(action).toMatchObject({ kind: 'truncate', fraction: 0.5 });
  if (action.kind !== 'truncate') return;

  const llmCallsBefore = h.fake.requests.length;
  // The channel runs this activity itself (no child workflow): here as it would, by its activity id.
  const result: TruncateContextResult = await activityEnv('truncate-13').run(activities.truncateContext, { agentId: 'main', channelId, fraction: action.fraction, throughTurn: 13 });
  // Turns 9–13 are in the context: the oldest three (half, rounded up) go.
  expect(result).toMatchObject({ outcome: 'truncated', fromTurn: 9, throughTurn: 11, turnsRemoved: 3, entriesRemoved: 9 });
  expect(result.tokensAfter).toBeLessThan(result.tokensBefore);
  expect(h.fake.requests.length).toBe(llmCallsBefore);
  expect(await turnsInContext()).toEqual([12, 13]);
  const archive = await h.database.db.selectFrom('conversation_archives').selectAll().where('channel_id', '=', channelId).where('reason', '=', 'truncate').executeTakeFirstOrThrow();
  expect(archive).toMatchObject({ from_turn: 9, through_turn: 11, entry_count: 9 });

  // The next call sees the summary, then the marker, then turns 12 on; every reply call has its result.
  const before = channelRequests.length;
  await send(14);
  const request = channelRequests[before];
  expect(firstUserText(request)).toMatch(/turns 1–11[\s\S]*SUMMARY v2[\s\S]*Turns 9–11 were removed without a summary[\s\S]*message 12/);
  const calls = (request?.messages ?? []).flatMap((m) => (m.toolCalls ?? []).map((c) => c.id));
  const results = (request?.messages ?? []).flatMap((m) => (m.toolResults ?? []).map((r) => r.toolCallId));
  expect(calls).toHaveLength(2);
  expect(results).toEqual(calls);
});
