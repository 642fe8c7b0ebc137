import type { ScriptToolCall } from '../fake-llm/server.js';
import { createHarness, type Harness } from '../helpers/harness.js';

/**
 * Issue 14, finding 6: whoever chats steers the model, so the `cron` tool sees and changes only the
 * heartbeats it created in its own conversation, and a conversation gets a few of them at most, none
 * more often than the minimum interval.
 */

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ toml: '[heartbeat_defaults]\ntool_max_per_conversation = 2\n' });
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => h.fake.reset());

/** Never fires on its own during a test run (1 January, midnight). */
const NEVER = '0 0 1 1 *';
let callSeq = 0;

/** One turn in `conversation` whose model makes `calls` one step after another; the tool results, in order. */
async function turn(conversation: string, ...inputs: Record<string, unknown>[]): Promise<{ text: string; isError?: boolean }[]> {
  const calls: ScriptToolCall[] = inputs.map((input) => ({ id: `toolu_cron_${++callSeq}`, name: 'cron', input }));
  h.fake.enqueue(...calls.map((c) => ({ toolCalls: [c] })), { text: 'Done.' });
  const res = await h.request('POST', `/v1/agents/main/conversations/${conversation}/messages`, { text: 'do the cron things', wait: 60_000 });
  expect(res.status).toBe(200);
  const results = h.fake.requests.flatMap((r) => r.neutral?.messages.flatMap((m) => m.toolResults ?? []) ?? []);
  return calls.map((c) => {
    const found = results.find((r) => r.toolCallId === c.id);
    if (!found) throw new Error(`no result for ${c.id}`);
    return { text: found.text, isError: found.isError === true };
  });
}

const exists = async (id: string) => (await h.request('GET', `/v1/agents/main/heartbeats/${id}`)).status === 200;

test('the cron tool cannot delete a heartbeat made through the API, nor see it', async () => {
  expect((await h.request('POST', '/v1/agents/main/heartbeats', { id: 'operator', prompt: 'Check the backups', cron: NEVER })).status).toBe(201);
  const [list, del] = await turn('cron-a', { action: 'list' }, { action: 'delete', id: 'operator' });
  expect(list).toMatchObject({ isError: false, text: 'This conversation has no heartbeats.' });
  expect(del?.isError).toBe(true);
  expect(del?.text).toMatch(/this conversation has no heartbeat "operator"/);
  expect(await exists('operator')).toBe(true);
});

test("the cron tool cannot delete another conversation's heartbeat; it deletes its own", async () => {
  const [created] = await turn('cron-a', { action: 'create', id: 'a-hourly', prompt: 'Hourly news', interval_seconds: 3600 });
  expect(created).toMatchObject({ isError: false, text: expect.stringMatching(/Created heartbeat "a-hourly"/) });

  const [otherList, otherDelete] = await turn('cron-b', { action: 'list' }, { action: 'delete', id: 'a-hourly' });
  expect(otherList?.text).toBe('This conversation has no heartbeats.');
  expect(otherDelete?.isError).toBe(true);
  expect(await exists('a-hourly')).toBe(true);

  const [ownList, ownDelete] = await turn('cron-a', { action: 'list' }, { action: 'delete', id: 'a-hourly' });
  expect(ownList?.text).toMatch(/^a-hourly: every 3600 s/);
  expect(ownDelete).toMatchObject({ isError: false, text: 'Deleted heartbeat "a-hourly".' });
  expect(await exists('a-hourly')).toBe(false);
});

test('a conversation keeps at most tool_max_per_conversation heartbeats', async () => {
  const results = await turn(
    'cron-quota',
    { action: 'create', id: 'q-one', prompt: 'one', interval_seconds: 3600 },
    { action: 'create', id: 'q-two', prompt: 'two', cron: NEVER },
    { action: 'create', id: 'q-three', prompt: 'three', interval_seconds: 3600 },
  );
  expect(results.map((r) => r.isError)).toEqual([false, false, true]);
  expect(results[2]?.text).toMatch(/already has 2 heartbeats \(at most 2\)/);
  expect(await exists('q-three')).toBe(false);
  // Another conversation has its own quota.
  const [elsewhere] = await turn('cron-quota-2', { action: 'create', id: 'q-four', prompt: 'four', interval_seconds: 3600 });
  expect(elsewhere?.isError).toBe(false);
});

test('heartbeats made by the tool run at most every 15 minutes, by interval or by cron expression', async () => {
  const results = await turn(
    'cron-fast',
    { action: 'create', id: 'fast-interval', prompt: 'spam', interval_seconds: 600 },
    { action: 'create', id: 'fast-cron', prompt: 'spam', cron: '*/5 * * * *' },
    { action: 'create', id: 'ok-cron', prompt: 'fine', cron: '*/30 * * * *' },
  );
  expect(results.map((r) => r.isError)).toEqual([true, true, false]);
  expect(results[0]?.text).toMatch(/interval_seconds must be at least 900 \(15 minutes\)/);
  expect(results[1]?.text).toMatch(/at least 15 minutes apart/);
  expect(await exists('fast-cron')).toBe(false);
  const ok = await h.request('GET', '/v1/agents/main/heartbeats/ok-cron');
  expect(ok.body).toMatchObject({ source: 'tool', paused: false, cron: '*/30 * * * *' });
});
