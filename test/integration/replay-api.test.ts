import { createHarness, type Harness } from '../helpers/harness.js';

/** POST /v1/runs/:workflowId/replay: the API's way to check a deploy against a live run. */
let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

test('a conversation run replays cleanly against the code the API runs', async () => {
  h.fake.script(() => ({ toolCalls: [{ name: 'reply', input: { text: 'hi' } }] }));
  await h.request('POST', '/v1/agents/main/conversations/replay-me/messages', { text: 'hello', wait: true });
  const res = await h.request('POST', '/v1/runs/channel:main:webhook:replay-me/replay');
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ workflowId: 'channel:main:webhook:replay-me', ok: true, skipped: false });
  expect(String(res.body.runId)).toMatch(/^[0-9a-f-]{36}$/);
}, 60_000);

test('an unknown workflow is a 404 and a malformed run id a 400', async () => {
  const missing = await h.request('POST', '/v1/runs/channel:main:webhook:nobody/replay');
  expect(missing.status).toBe(404);
  expect(missing.body).toMatchObject({ error: 'not_found', field: 'workflowId' });
  const bad = await h.request('POST', '/v1/runs/channel:main:webhook:replay-me/replay?runId=nope');
  expect(bad.status).toBe(400);
  expect(bad.body.field).toBe('runId');
});
