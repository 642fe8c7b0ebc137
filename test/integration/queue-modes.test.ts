import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NeutralRequest, ScriptStep } from '../fake-llm/script.js';
import { gate } from '../helpers/gate.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { recordHistories } from '../helpers/histories.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

/**
 * What happens to messages that arrive while a turn runs, per queue mode, and the multi-user burst
 * debounce. Each scenario holds the first LLM call of a turn on a gate, sends more messages, then
 * lets the call answer; the LLM requests and the transcript show how the messages were grouped.
 */
const conv = (c: string) => `/v1/agents/main/conversations/${c}`;
const wfId = (c: string) => `channel:main:webhook:${c}`;

interface TranscriptMessage {
  direction: string;
  text: string;
  messageId: string;
  turn?: number;
}


let env: TestWorkflowEnvironment;
let h: Harness;
beforeAll(async () => {
  env = await startTestTemporal();
  h = await createHarness({ env, toml: '\n[[agents]]\nid = "main"\n\n[[agents]]\nid = "strict"\nrequire_reply_tool = true\n' });
});
afterAll(async () => {
  await h?.close();
  await env?.teardown();
});
beforeEach(() => h.fake.reset());

const userTexts = (req: NeutralRequest) => req.messages.filter((m) => m.role === 'user').map((m) => m.text);
const chatRequests = () => h.fake.requests.flatMap((r) => (r.neutral ? [r.neutral] : []));

async function transcript(c: string): Promise<TranscriptMessage[]> {
  return (await h.request('GET', `${conv(c)}/messages`)).body.messages as TranscriptMessage[];
}

/** Starts the conversation and sets its queue mode through the API. */
async function open(c: string, mode: string): Promise<void> {
  const first = await h.request('POST', `${conv(c)}/messages`, { text: 'hello', wait: true });
  expect(first.status).toBe(200);
  const set = await h.request('PUT', `${conv(c)}/queue-mode`, { queue_mode: mode });
  expect(set.body).toEqual({ queueMode: mode });
}

/** m1's first LLM call waits on `held`; the rest answer at once with "answer to <last user text>". */
async function sendDuringTurn(c: string, held: Promise<void>, later: string[], extra: Record<string, unknown> = {}): Promise<void> {
  await h.request('POST', `${conv(c)}/messages`, { text: 'm1', messageId: `${c}-m1`, ...extra });
  await eventually(async () => (chatRequests().some((r) => r.lastUserText.startsWith('m1')) ? true : undefined), 20_000, 'the first call');
  for (const [i, text] of later.entries()) await h.request('POST', `${conv(c)}/messages`, { text, messageId: `${c}-m${i + 2}`, ...extra });
  void held;
}

test('followup: each message queued during a turn gets a turn of its own, in order', async () => {
  await open('q-follow', 'followup');
  h.fake.reset();
  const g = gate();
  h.fake.script(async (req): Promise<ScriptStep> => {
    if (req.lastUserText === 'm1') await g.promise;
    return { text: `answer to ${req.lastUserText}` };
  });
  await sendDuringTurn('q-follow', g.promise, ['m2', 'm3']);
  g.open();
  await eventually(async () => ((await transcript('q-follow')).filter((m) => m.direction === 'outbound').length === 4 ? true : undefined), 30_000, 'three answers');
  expect(chatRequests().map((r) => r.lastUserText)).toEqual(['m1', 'm2', 'm3']);
  const turns = (await transcript('q-follow')).filter((m) => m.direction === 'inbound').map((m) => m.turn);
  expect(new Set(turns).size).toBe(4);
});

test('collect: everything queued during a turn becomes one next turn', async () => {
  await open('q-collect', 'collect');
  h.fake.reset();
  const g = gate();
  h.fake.script(async (req): Promise<ScriptStep> => {
    if (req.lastUserText === 'm1') await g.promise;
    return { text: `answer to ${req.lastUserText}` };
  });
  await sendDuringTurn('q-collect', g.promise, ['m2', 'm3']);
  g.open();
  await eventually(async () => ((await transcript('q-collect')).filter((m) => m.direction === 'outbound').length === 3 ? true : undefined), 30_000, 'two answers');
  const requests = chatRequests();
  expect(requests).toHaveLength(2);
  expect(userTexts(requests[1]!).pop()).toMatch(/m2[\s\S]*m3/);
  const inbound = (await transcript('q-collect')).filter((m) => m.direction === 'inbound');
  expect(inbound.find((m) => m.text === 'm2')?.turn).toBe(inbound.find((m) => m.text === 'm3')?.turn);
  await recordHistories(h.env, wfId('q-collect'), 'queue-collect');
});

test('steer: a message sent during a turn joins it at the next LLM call', async () => {
  await open('q-steer', 'steer');
  h.fake.reset();
  const g = gate();
  h.fake.script(async (req): Promise<ScriptStep> => {
    if (req.lastUserText === 'm1') {
      await g.promise;
      // A tool call keeps the turn going: the next LLM call sees what arrived meanwhile.
      return { toolCalls: [{ name: 'react', input: { emoji: '👀' } }] };
    }
    return { toolCalls: [{ name: 'reply', input: { text: `answer to ${userTexts(req).pop() ?? ''}` } }] };
  });
  await sendDuringTurn('q-steer', g.promise, ['m2']);
  g.open();
  await eventually(async () => ((await transcript('q-steer')).filter((m) => m.direction === 'outbound').length === 2 ? true : undefined), 30_000, 'the answer');
  const requests = chatRequests();
  expect(requests).toHaveLength(2);
  expect(userTexts(requests[1]!).pop()).toContain('m2');
  const messages = await transcript('q-steer');
  const m1 = messages.find((m) => m.text === 'm1');
  expect(messages.find((m) => m.text === 'm2')?.turn).toBe(m1?.turn);
  expect(messages.filter((m) => m.direction === 'outbound').pop()?.text).toContain('m2');
  await recordHistories(h.env, wfId('q-steer'), 'queue-steer');
});

test('interrupt: a new message cancels the running turn and the next turn answers it', async () => {
  await open('q-int', 'interrupt');
  h.fake.reset();
  const never = gate();
  h.fake.script(async (req): Promise<ScriptStep> => {
    if (req.lastUserText === 'm1') await never.promise;
    return { text: `answer to ${userTexts(req).pop() ?? ''}` };
  });
  await sendDuringTurn('q-int', never.promise, ['m2']);
  await eventually(async () => ((await transcript('q-int')).some((m) => m.direction === 'outbound' && m.text.includes('m2')) ? true : undefined), 30_000, 'the answer to m2');
  const outbound = (await transcript('q-int')).filter((m) => m.direction === 'outbound').map((m) => m.text);
  // No answer (and no error message) for the interrupted turn.
  expect(outbound).toHaveLength(2);
  never.open();
  const history = await h.env.client.workflow.getHandle(wfId('q-int')).fetchHistory();
  expect((history.events ?? []).some((e) => e.activityTaskCancelRequestedEventAttributes)).toBe(true);
  await recordHistories(h.env, wfId('q-int'), 'queue-interrupt');
});

test('a burst in a multi-user chat is answered in one turn; direct messages are not held back', async () => {
  await open('q-burst', 'followup');
  h.fake.reset();
  const g = gate();
  h.fake.script(async (req): Promise<ScriptStep> => {
    if (req.lastUserText.endsWith('m1')) await g.promise;
    return { text: 'ok' };
  });
  await sendDuringTurn('q-burst', g.promise, ['m2', 'm3', 'm4'], { direct: false });
  g.open();
  await eventually(async () => (chatRequests().length >= 2 ? true : undefined), 30_000, 'the burst turn');
  // Settle: nothing else comes for the burst.
  await eventually(async () => ((await transcript('q-burst')).filter((m) => m.direction === 'outbound').length === 3 ? true : undefined), 30_000, 'two answers');
  expect(chatRequests()).toHaveLength(2);
  expect(userTexts(chatRequests()[1]!).pop()).toMatch(/m2[\s\S]*m3[\s\S]*m4/);

  // A lone message starts its turn at once (no debounce window is waited out).
  h.fake.reset();
  h.fake.script(() => ({ text: 'quick' }));
  const lone = await h.request('POST', `${conv('q-burst')}/messages`, { text: 'lone', direct: false, wait: true });
  expect(lone.status).toBe(200);
  expect(chatRequests()).toHaveLength(1);
});

test('an agent that must use its reply tool is nudged when it answers with bare text, at most twice', async () => {
  const strict = (c: string) => `/v1/agents/strict/conversations/${c}/messages`;
  h.fake.script((req): ScriptStep => {
    const nudged = req.messages.filter((m) => m.role === 'user' && m.text.includes('plain text is not sent')).length;
    if (userTexts(req)[0]?.startsWith('obedient') && nudged === 1) return { toolCalls: [{ name: 'reply', input: { text: 'properly replied' } }] };
    return { text: `bare text ${nudged}` };
  });
  const obedient = await h.request('POST', strict('nudge-a'), { text: 'obedient', wait: true });
  expect((obedient.body.replies as { text: string }[]).map((r) => r.text)).toEqual(['properly replied']);
  expect(chatRequests()).toHaveLength(2);

  // A model that never uses its tools: two nudges, then its text is delivered rather than lost.
  h.fake.reset();
  h.fake.script((req): ScriptStep => ({ text: `bare text ${req.messages.filter((m) => m.role === 'user' && m.text.includes('plain text is not sent')).length}` }));
  const stubborn = await h.request('POST', strict('nudge-b'), { text: 'stubborn', wait: true });
  expect((stubborn.body.replies as { text: string }[]).map((r) => r.text)).toEqual(['bare text 2']);
  expect(chatRequests()).toHaveLength(3);
});
