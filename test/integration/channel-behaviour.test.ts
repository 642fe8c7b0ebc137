import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { gate } from '../helpers/gate.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { recordHistories } from '../helpers/histories.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

const messagesPath = (conversation: string) => `/v1/agents/main/conversations/${conversation}/messages`;
const wfId = (conversation: string) => `channel:main:webhook:${conversation}`;

interface Reply {
  text: string;
  kind: string;
}
interface TranscriptMessage {
  direction: string;
  text: string;
  messageId: string;
  replyTo?: string;
}


let env: TestWorkflowEnvironment;
let h: Harness;
beforeAll(async () => {
  env = await startTestTemporal();
  h = await createHarness({ env, toml: 'continue_as_new_after_turns = 3\nqueue_mode = "followup"' });
});
afterAll(async () => {
  await h?.close();
  await env?.teardown();
});
beforeEach(() => h.fake.reset());

async function transcript(conversation: string): Promise<TranscriptMessage[]> {
  const res = await h.request('GET', messagesPath(conversation));
  return res.body.messages as TranscriptMessage[];
}

test('a duplicate message id is answered once', async () => {
  h.fake.script((req) => ({ text: `answer to ${req.lastUserText}` }));
  const first = await h.request('POST', messagesPath('dup'), { text: 'hi', messageId: 'same-id', wait: true });
  const second = await h.request('POST', messagesPath('dup'), { text: 'hi', messageId: 'same-id', wait: true });
  expect(first.status).toBe(200);
  // A retried POST is idempotent: the same answer as the first time, from one turn.
  expect(second.status).toBe(200);
  expect(second.body.replies).toEqual(first.body.replies);
  const third = await h.request('POST', messagesPath('dup'), { text: 'hi', messageId: 'same-id' });
  expect(third.status).toBe(202);
  expect(third.body.duplicate).toBe(true);
  expect(h.fake.requests).toHaveLength(1);
  expect((await transcript('dup')).map((m) => m.direction)).toEqual(['inbound', 'outbound']);
  await recordHistories(h.env, wfId('dup'), 'duplicate-message');
});

test('two conversations run their turns at the same time', async () => {
  const arrived = new Set<string>();
  const both = gate();
  h.fake.script(async (req) => {
    arrived.add(req.lastUserText);
    if (arrived.size === 2) both.open();
    // Each LLM call waits until the other conversation's call has also arrived: only possible in parallel.
    await Promise.race([both.promise, new Promise((_, reject) => setTimeout(() => reject(new Error('calls did not overlap')), 10_000))]);
    return { text: `done ${req.lastUserText}` };
  });
  const [a, b] = await Promise.all([
    h.request('POST', messagesPath('par-a'), { text: 'A', wait: true }),
    h.request('POST', messagesPath('par-b'), { text: 'B', wait: true }),
  ]);
  expect((a.body.replies as Reply[])[0]?.text).toBe('done A');
  expect((b.body.replies as Reply[])[0]?.text).toBe('done B');
});

test('messages sent during a turn are accepted at once and answered after it, in order', async () => {
  const hold = gate();
  h.fake.script(async (req) => {
    if (req.lastUserText === 'one') await hold.promise;
    return { text: `re: ${req.lastUserText}` };
  });
  const first = await h.request('POST', messagesPath('busy'), { text: 'one', messageId: 'b1' });
  expect(first.status).toBe(202);
  await eventually(async () => (h.fake.requests.length ? true : undefined), 10_000, 'first LLM call');
  // The turn is blocked in the LLM; intake must not be.
  const second = await h.request('POST', messagesPath('busy'), { text: 'two', messageId: 'b2' });
  const third = await h.request('POST', messagesPath('busy'), { text: 'three', messageId: 'b3' });
  expect([second.status, third.status]).toEqual([202, 202]);
  hold.open();
  const messages = await eventually(async () => {
    const t = await transcript('busy');
    return t.filter((m) => m.direction === 'outbound').length === 3 ? t : undefined;
  });
  expect(messages.filter((m) => m.direction === 'outbound').map((m) => [m.text, m.replyTo])).toEqual([
    ['re: one', 'b1'],
    ['re: two', 'b2'],
    ['re: three', 'b3'],
  ]);
  // The second turn saw the first turn's answer.
  expect(h.fake.requests[1]?.neutral?.messages.map((m) => m.text)).toEqual(['one', 're: one', 'two']);
  await recordHistories(h.env, wfId('busy'), 'messages-during-turn');
});

test('continue-as-new keeps the conversation, its context and its deduplication', async () => {
  h.fake.script((req) => ({ text: `turn with ${req.messages.filter((m) => m.role === 'user').length} user messages` }));
  for (let i = 1; i <= 7; i++) {
    const res = await h.request('POST', messagesPath('long'), { text: `message ${i}`, messageId: `long-${i}`, wait: true });
    expect(res.status).toBe(200);
    expect((res.body.replies as Reply[])[0]?.text).toBe(`turn with ${i} user messages`);
  }
  // A message from the first run, sent again to the third run, is still recognised.
  const again = await h.request('POST', messagesPath('long'), { text: 'message 1', messageId: 'long-1', wait: true });
  expect(again.body.duplicate).toBe(true);
  expect(h.fake.requests).toHaveLength(7);
  const runs: string[] = [];
  for await (const execution of h.env.client.workflow.list({ query: `WorkflowId = '${wfId('long')}'` })) runs.push(execution.status.name);
  // Three turns a run: 7 turns make at least three runs, the older ones continued-as-new.
  expect(runs.length).toBeGreaterThanOrEqual(3);
  expect(runs.filter((s) => s === 'CONTINUED_AS_NEW').length).toBe(runs.length - 1);
  await recordHistories(h.env, wfId('long'), 'continue-as-new');
});

test('a rate-limited call is retried after the retry-after the provider sent', async () => {
  h.fake.enqueue({ fault: 'rate_limit', retryAfterSeconds: 1 }, { text: 'after the rate limit' });
  const res = await h.request('POST', messagesPath('ratelimit'), { text: 'hi', wait: true });
  expect((res.body.replies as Reply[]).map((r) => r.text)).toEqual(['after the rate limit']);
  expect(h.fake.requests).toHaveLength(2);
  const [a, b] = h.fake.requests;
  expect((b?.time ?? 0) - (a?.time ?? 0)).toBeGreaterThanOrEqual(900);
  await recordHistories(h.env, wfId('ratelimit'), 'rate-limit-retry');
});

test('a transient 500 and 529 are retried until the model answers', async () => {
  h.fake.enqueue({ fault: 'server_error' }, { fault: 'overloaded' }, { text: 'recovered' });
  const res = await h.request('POST', messagesPath('transient'), { text: 'hi', wait: true });
  expect((res.body.replies as Reply[]).map((r) => r.text)).toEqual(['recovered']);
  expect(h.fake.requests).toHaveLength(3);
});

test('an auth error reaches the user as a clear error reply and is not retried', async () => {
  h.fake.script(() => ({ fault: 'auth' }));
  const res = await h.request('POST', messagesPath('auth'), { text: 'hi', wait: true });
  expect(res.status).toBe(200);
  const replies = res.body.replies as Reply[];
  expect(replies).toHaveLength(1);
  expect(replies[0]?.kind).toBe('error');
  expect(replies[0]?.text).toMatch(/rejected our credentials/);
  expect(h.fake.requests).toHaveLength(1);
  // The conversation is still alive for the next message.
  h.fake.script(() => ({ text: 'working again' }));
  const next = await h.request('POST', messagesPath('auth'), { text: 'again', wait: true });
  expect((next.body.replies as Reply[])[0]?.text).toBe('working again');
  await recordHistories(h.env, wfId('auth'), 'auth-error');
});

test('a tool call with invalid arguments is explained to the model, which then corrects itself', async () => {
  h.fake.enqueue({ toolCalls: [{ name: 'reply', input: { wrong: 1 } }] }, { toolCalls: [{ name: 'reply', input: { text: 'fixed' } }] });
  const res = await h.request('POST', messagesPath('badtool'), { text: 'hi', wait: true });
  expect((res.body.replies as Reply[]).map((r) => r.text)).toEqual(['fixed']);
  const toolResult = h.fake.requests[1]?.neutral?.messages.flatMap((m) => m.toolResults ?? [])[0];
  expect(toolResult?.text).toMatch(/Invalid arguments for reply/);
  await recordHistories(h.env, wfId('badtool'), 'invalid-tool-arguments');
});

test('the channel warns on a repeated identical tool call and blocks the next one without running it', async () => {
  const react = { name: 'react', input: { emoji: '👍' } };
  h.fake.enqueue({ toolCalls: [react] }, { toolCalls: [react] }, { toolCalls: [react] }, { toolCalls: [{ name: 'reply', input: { text: 'done' } }] });
  const res = await h.request('POST', messagesPath('loopguard'), { text: 'hi', wait: true });
  expect((res.body.replies as Reply[]).map((r) => r.text)).toEqual(['done']);
  expect(h.fake.requests).toHaveLength(4);
  const texts = (i: number) => h.fake.requests[i]?.neutral?.messages.flatMap((m) => [m.text, ...(m.toolResults ?? []).map((r) => r.text)]) ?? [];
  // The first repeat ran, with a warning beside its result; the second repeat was blocked.
  expect(texts(1).some((t) => t.includes('You already called react'))).toBe(false);
  expect(texts(2).filter((t) => t.includes('You already called react with these same arguments'))).toHaveLength(1);
  const results = h.fake.requests[3]?.neutral?.messages.flatMap((m) => m.toolResults ?? []) ?? [];
  expect(results).toHaveLength(3);
  expect(results[2]).toMatchObject({ isError: true, text: expect.stringMatching(/^Blocked: react was already called/) });
  // Only two of the three calls reached the tool activity.
  const history = await h.env.client.workflow.getHandle(wfId('loopguard')).fetchHistory();
  const runTools = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runTool');
  expect(runTools).toHaveLength(2);
  await recordHistories(h.env, wfId('loopguard'), 'tool-loop-guard');
});

test('a turn stops after the LLM call limit', async () => {
  h.fake.script(() => ({ toolCalls: [{ name: 'no_such_tool', input: {} }] }));
  await h.request('POST', messagesPath('loop'), { text: 'hi', wait: true });
  expect(h.fake.requests).toHaveLength(5);
});
