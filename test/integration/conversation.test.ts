import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

const path = (conversation: string) => `/v1/agents/main/conversations/${conversation}/messages`;

interface Reply {
  text: string;
  kind: string;
}

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTestTemporal();
});
afterAll(async () => {
  await env?.teardown();
});

describe.each(['anthropic', 'openai'] as const)('a conversation through %s', (provider) => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ provider, env });
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(() => h.fake.reset());

  test('an HTTP message gets the reply the model sends with the reply tool', async () => {
    h.fake.script((req) =>
      req.messages[req.messages.length - 1]?.role === 'tool' ? { text: '' } : { toolCalls: [{ name: 'reply', input: { text: `echo: ${req.lastUserText}` } }] },
    );
    const res = await h.request('POST', path(`reply-tool-${provider}`), { text: 'hello there', sender: { id: 'u1', name: 'Ada' }, wait: true });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('completed');
    expect((res.body.replies as Reply[]).map((r) => r.text)).toEqual(['echo: [Ada] hello there']);
    expect(res.body.workflowId).toBe(`channel:main:webhook:reply-tool-${provider}`);
    expect(String(res.body.temporalUiUrl)).toContain('/namespaces/default/workflows/channel%3Amain%3Awebhook%3Areply-tool-');
    // reply is terminal: one LLM call for the turn, and the tool was offered from its zod schema.
    expect(h.fake.requests).toHaveLength(1);
    expect(h.fake.requests[0]?.neutral?.tools).toEqual(expect.arrayContaining(['reply', 'skip']));
  });

  test('a plain-text answer reaches the user too, and both directions are in the transcript', async () => {
    h.fake.script(() => ({ text: 'Plain answer.', usage: { input: 120, output: 7 } }));
    const conversation = `plain-${provider}`;
    const res = await h.request('POST', path(conversation), { text: 'what is up', messageId: 'm-1', wait: 30_000 });
    expect(res.status).toBe(200);
    expect((res.body.replies as Reply[])[0]?.text).toBe('Plain answer.');
    const transcript = await h.request('GET', path(conversation));
    const messages = transcript.body.messages as { direction: string; text: string; messageId: string }[];
    expect(messages.map((m) => [m.direction, m.text])).toEqual([
      ['inbound', 'what is up'],
      ['outbound', 'Plain answer.'],
    ]);
    expect(messages[0]?.messageId).toBe('m-1');
    const usage = await h.database.db.selectFrom('llm_calls').selectAll().where('channel_id', '=', `channel:main:webhook:${conversation}`).execute();
    expect(usage).toHaveLength(1);
    expect(usage[0]).toMatchObject({ provider, output_tokens: 7 });
  });

  test('without wait the API answers 202 at once and the reply shows up in the transcript', async () => {
    h.fake.script(() => ({ text: 'later', delayMs: 300 }));
    const conversation = `nowait-${provider}`;
    const res = await h.request('POST', path(conversation), { text: 'ping' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'accepted', workflowId: `channel:main:webhook:${conversation}` });
    const outbound = await eventually(async () => {
      const t = await h.request('GET', path(conversation));
      const msgs = t.body.messages as { direction: string; text: string }[];
      return msgs.find((m) => m.direction === 'outbound');
    });
    expect(outbound.text).toBe('later');
  });

  test('the previous turns are in the context of the next LLM call', async () => {
    h.fake.script((req) => ({ text: `seen ${req.messages.filter((m) => m.role === 'user').length} user messages` }));
    const conversation = `context-${provider}`;
    await h.request('POST', path(conversation), { text: 'first', wait: true });
    const res = await h.request('POST', path(conversation), { text: 'second', wait: true });
    expect((res.body.replies as Reply[])[0]?.text).toBe('seen 2 user messages');
    const last = h.fake.requests[h.fake.requests.length - 1]?.neutral;
    expect(last?.messages.map((m) => m.text)).toEqual(['first', 'seen 1 user messages', 'second']);
  });
});
