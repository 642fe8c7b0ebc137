import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NeutralRequest, ScriptStep } from '../fake-llm/script.js';
import { gate } from '../helpers/gate.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { recordHistories } from '../helpers/histories.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

/**
 * The channel keeps its context in bounds, end to end: the fake model reports a context size against
 * a 2,000-token window configured for it, and the channel starts a compactor child at 80 % (which
 * summarises while the channel keeps answering, alongside a running worker), or truncates at once at
 * 95 %. Also: a channel that continues as new keeps hearing its running children.
 */
const MODEL = 'anthropic/claude-haiku-5-5';
const conv = (c: string) => `/v1/agents/main/conversations/${c}`;
const wfId = (c: string) => `channel:main:webhook:${c}`;


let env: TestWorkflowEnvironment;
let h: Harness;
beforeAll(async () => {
  env = await startTestTemporal();
  h = await createHarness({ env, toml: `continue_as_new_after_turns = 6\n\n[models."${MODEL}"]\ncontext_window = 2000\n` });
});
afterAll(async () => {
  await h?.close();
  await env?.teardown();
});
beforeEach(() => h.fake.reset());

const isCompactor = (req: NeutralRequest) => req.tools.length === 0;
const isWorker = (req: NeutralRequest) => req.tools.includes('set_status');
const chatRequests = () => h.fake.requests.flatMap((r) => (r.neutral ? [r.neutral] : []));

/** Every tool call in a request has its result (the compactor never splits a pair). */
function pairsIntact(req: NeutralRequest): boolean {
  const calls = req.messages.flatMap((m) => m.toolCalls ?? []).map((c) => c.id);
  const results = new Set(req.messages.flatMap((m) => m.toolResults ?? []).map((r) => r.toolCallId));
  return calls.every((id) => results.has(id));
}

async function say(c: string, text: string): Promise<string[]> {
  const res = await h.request('POST', `${conv(c)}/messages`, { text, wait: true });
  expect(res.status).toBe(200);
  return (res.body.replies as { text: string }[]).map((r) => r.text);
}

test('at 80 % a compactor summarises old turns while the channel keeps answering beside a worker; at 95 % the oldest half is truncated', async () => {
  const c = 'compact';
  const summaryGate = gate();
  const worker = gate();
  let usage = 400;
  h.fake.script(async (req): Promise<ScriptStep> => {
    if (isCompactor(req)) {
      await summaryGate.promise;
      return { text: 'Summary: the user counted from one upwards and asked for a worker.' };
    }
    if (isWorker(req)) {
      await worker.promise;
      return { toolCalls: [{ name: 'set_status', input: { status: 'finished the long job', done: true } }] };
    }
    const last = req.messages[req.messages.length - 1];
    if (last?.role === 'tool' || (last?.role === 'user' && last.text.startsWith('<status>'))) return { toolCalls: [{ name: 'skip', input: {} }], usage: { input: usage, output: 5 } };
    if (req.lastUserText.startsWith('start a job')) {
      return { toolCalls: [{ name: 'spawn_worker', input: { task: 'a long job' } }, { name: 'reply', input: { text: 'job started' } }], usage: { input: usage, output: 5 } };
    }
    // Each turn answers with a tool call and its result, so turns hold tool pairs to keep intact.
    return { toolCalls: [{ name: 'reply', input: { text: `reply to ${req.lastUserText.split('\n')[0]}` } }], usage: { input: usage, output: 5 } };
  });

  for (let i = 1; i <= 4; i++) await say(c, `message ${i}`);
  await say(c, 'start a job please');
  // The next call reports 82 % of the window: a compactor starts and waits on its summary.
  usage = 1640;
  expect(await say(c, 'message 6')).toEqual(['reply to message 6']);
  const compactorId = `${wfId(c)}/compactor/6`;
  await eventually(async () => (chatRequests().some(isCompactor) ? true : undefined), 20_000, 'the compactor to call the model');

  // While the compactor and the worker run, the channel still answers.
  usage = 400;
  expect(await say(c, 'are you still there?')).toEqual(['reply to are you still there?']);
  summaryGate.open();
  await h.env.client.workflow.getHandle(compactorId).result();
  worker.open();

  const archives = await h.database.db.selectFrom('conversation_archives').selectAll().where('channel_id', '=', wfId(c)).execute();
  expect(archives).toHaveLength(1);
  expect(archives[0]).toMatchObject({ reason: 'summarise', from_turn: 1 });
  expect(JSON.stringify(archives[0]?.entries)).toContain('message 1');
  const summaries = await h.database.db.selectFrom('context_summaries').selectAll().where('channel_id', '=', wfId(c)).execute();
  expect(summaries.map((s) => s.kind)).toEqual(['summary']);

  // The next channel call starts from the summary, without the archived turns, every tool pair whole.
  h.fake.reset();
  h.fake.script((req): ScriptStep => ({ toolCalls: [{ name: 'reply', input: { text: `seen ${req.messages.length} messages` } }], usage: { input: 1950, output: 5 } }));
  await say(c, 'after the summary');
  const afterSummary = chatRequests()[0]!;
  expect(JSON.stringify(afterSummary.messages)).toContain('Summary: the user counted');
  expect(JSON.stringify(afterSummary.messages)).not.toContain('message 1"');
  expect(pairsIntact(afterSummary)).toBe(true);

  // That call reported 97.5 %: the channel truncated at once, with no LLM call.
  const truncations = await h.database.db.selectFrom('context_summaries').select(['kind']).where('channel_id', '=', wfId(c)).where('kind', '=', 'truncation').execute();
  expect(truncations).toHaveLength(1);
  expect(chatRequests().filter(isCompactor)).toHaveLength(0);
  const archiveReasons = (await h.database.db.selectFrom('conversation_archives').select('reason').where('channel_id', '=', wfId(c)).execute()).map((r) => r.reason);
  expect(archiveReasons).toEqual(['summarise', 'truncate']);
  h.fake.reset();
  h.fake.script(() => ({ toolCalls: [{ name: 'reply', input: { text: 'still fine' } }], usage: { input: 300, output: 5 } }));
  await say(c, 'after truncation');
  expect(pairsIntact(chatRequests()[0]!)).toBe(true);
  await recordHistories(h.env, wfId(c), 'compaction-thresholds');
  await recordHistories(h.env, compactorId, 'compactor-child');
});

test('a channel that continues as new keeps its running worker and reports its result', async () => {
  const c = 'can-children';
  const worker = gate();
  h.fake.script(async (req): Promise<ScriptStep> => {
    // The small window configured for this file makes this conversation compact too.
    if (isCompactor(req)) return { text: 'Summary: a survey was started.' };
    if (isWorker(req)) {
      await worker.promise;
      return { toolCalls: [{ name: 'set_status', input: { status: 'the survey is done', done: true } }] };
    }
    if (req.lastUserText.includes('[Worker worker/1 completed]')) return { toolCalls: [{ name: 'reply', input: { text: 'The worker finished: the survey is done' } }] };
    const last = req.messages[req.messages.length - 1];
    if (last?.role === 'tool' || (last?.role === 'user' && last.text.startsWith('<status>'))) return { toolCalls: [{ name: 'skip', input: {} }] };
    if (req.lastUserText.startsWith('run the survey')) return { toolCalls: [{ name: 'spawn_worker', input: { task: 'run the survey' } }, { name: 'reply', input: { text: 'survey started' } }] };
    return { toolCalls: [{ name: 'reply', input: { text: 'ok' } }] };
  });
  await say(c, 'run the survey');
  // Six turns per run: these turns take the channel into its next run while the worker is busy.
  for (let i = 0; i < 6; i++) await say(c, `chat ${i}`);
  const runs: string[] = [];
  for await (const e of h.env.client.workflow.list({ query: `WorkflowId = '${wfId(c)}'` })) runs.push(e.runId);
  expect(runs.length).toBeGreaterThanOrEqual(2);

  worker.open();
  const messages = await eventually(async () => {
    const res = await h.request('GET', `${conv(c)}/messages`);
    const all = res.body.messages as { direction: string; text: string }[];
    return all.some((m) => m.text === 'The worker finished: the survey is done') ? all : undefined;
  }, 30_000, 'the result reported by the new run');
  expect(messages.filter((m) => m.text === 'The worker finished: the survey is done')).toHaveLength(1);
  const processes = (await h.request('GET', `${conv(c)}/processes`)).body.processes as { ref: string; state: string }[];
  expect(processes).toEqual([expect.objectContaining({ ref: 'worker/1', state: 'completed' })]);
  await recordHistories(h.env, wfId(c), 'continue-as-new-with-children');
});
