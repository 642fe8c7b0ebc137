import { createHarness, TEST_TOKEN, type Harness } from '../helpers/harness.js';

const url = '/v1/agents/main/conversations/api-test/messages';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ toml: '[server]\nbody_limit_bytes = 4096' });
});
afterAll(async () => {
  await h?.close();
});

test('/health answers without a token with its status only, and with the token reports Temporal and the database', async () => {
  const res = await fetch(`${h.baseUrl}/health`);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ status: 'ok' });
  const detail = await h.request('GET', '/health');
  expect(detail.status).toBe(200);
  expect(detail.body).toMatchObject({ status: 'ok', temporal: { ok: true }, database: { ok: true } });
});

test('every /v1 route needs the bearer token', async () => {
  const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: TEST_TOKEN }];
  for (const headers of attempts) {
    const res = await fetch(`${h.baseUrl}${url}`, { headers });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'unauthorized' });
  }
  const agents = await h.request('GET', '/v1/agents');
  expect(agents.status).toBe(200);
  expect(agents.body.agents).toEqual([{ id: 'main', name: 'main', model: 'anthropic/claude-haiku-5-5' }]);
});

test.each([
  [{}, 'text', /body\.text/],
  [{ text: '   ' }, 'text', /must not be empty/],
  [{ text: 42 }, 'text', /body\.text/],
  [{ text: 'hi', wait: 'soon' }, 'wait', /body\.wait/],
  [{ text: 'hi', wait: 999_999 }, 'wait', /body\.wait/],
  [{ text: 'hi', sender: { name: 'no id' } }, 'sender.id', /body\.sender\.id/],
  [{ text: 'hi', messageId: 'has spaces' }, 'messageId', /body\.messageId/],
  [{ text: 'hi', colour: 'blue' }, undefined, /unknown field colour/],
])('a bad body %j is a 400 naming the field', async (body, field, message) => {
  const res = await h.request('POST', url, body);
  expect(res.status).toBe(400);
  expect(res.body.error).toBe('invalid_request');
  if (field) expect(res.body.field).toBe(field);
  expect(String(res.body.message)).toMatch(message);
});

test('malformed JSON is a 400', async () => {
  const res = await h.request('POST', url, '{"text": "unterminated');
  expect(res.status).toBe(400);
  expect(res.body.error).toBe('invalid_request');
});

test('a body over the configured limit is a 413', async () => {
  const res = await h.request('POST', url, { text: 'x'.repeat(5000) });
  expect(res.status).toBe(413);
  expect(res.body).toMatchObject({ error: 'payload_too_large' });
  expect(String(res.body.message)).toContain('4096');
});

test('an unknown agent is a 404 for both posting and reading', async () => {
  const post = await h.request('POST', '/v1/agents/nobody/conversations/c/messages', { text: 'hi' });
  expect(post.status).toBe(404);
  expect(post.body).toMatchObject({ error: 'not_found', field: 'agent' });
  const get = await h.request('GET', '/v1/agents/nobody/conversations/c/messages');
  expect(get.status).toBe(404);
});

test('the transcript pages with a cursor', async () => {
  h.fake.script((req) => ({ text: `re ${req.lastUserText}` }));
  for (const text of ['a', 'b']) await h.request('POST', '/v1/agents/main/conversations/paging/messages', { text, wait: true });
  const page1 = await h.request('GET', '/v1/agents/main/conversations/paging/messages?limit=3');
  const messages1 = page1.body.messages as { text: string }[];
  expect(messages1.map((m) => m.text)).toEqual(['a', 're a', 'b']);
  const page2 = await h.request('GET', `/v1/agents/main/conversations/paging/messages?after=${String(page1.body.nextCursor)}`);
  expect((page2.body.messages as { text: string }[]).map((m) => m.text)).toEqual(['re b']);
  const bad = await h.request('GET', '/v1/agents/main/conversations/paging/messages?after=abc');
  expect(bad.status).toBe(400);
  expect(bad.body.field).toBe('after');
});

test('an unknown route is a JSON 404', async () => {
  const res = await h.request('GET', '/v1/nothing');
  expect(res.status).toBe(404);
  expect(res.body.error).toBe('not_found');
});
