import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { adapterToml } from '../helpers/gateway.js';
import { startFakeTelegram, type FakeChat, type FakeTelegram, type FakeUser } from '../fake-platforms/telegram/server.js';
import type { ScriptHandler } from '../fake-llm/server.js';
import { DELIVERY_MAX_ATTEMPTS } from '../../workflows/delivery-budget.js';

/**
 * The delivery outbox's retry budget end to end: the fake Bot API ← grammY ← the gateway → Temporal
 * → the worker → the delivery activity. A reply the platform keeps refusing (rate limited, again and
 * again) ends `failed` after DELIVERY_MAX_ATTEMPTS, visible to the operator on GET /v1/deliveries,
 * and the conversation answers the next message.
 */
const bob: FakeUser = { id: 4242, is_bot: false, first_name: 'Bob' };
const chat: FakeChat = { id: 4242, type: 'private' };

const echo: ScriptHandler = (req) => {
  if (req.messages[req.messages.length - 1]?.role === 'tool') return { text: '' };
  return { toolCalls: [{ name: 'reply', input: { text: `echo: ${req.lastUserText ?? ''}` } }] };
};

let tg: FakeTelegram;
let h: Harness;

beforeAll(async () => {
  tg = await startFakeTelegram();
  h = await createHarness({
    // No streamed drafts: every sendMessage is the reply's delivery.
    toml: '\n[[agents]]\nid = "main"\nstreaming = false\n' + adapterToml('telegram', 'default', { api_root: tg.url, poll_timeout_seconds: 2 }),
    gateway: { env: { TELEGRAM_BOT_TOKEN: tg.token }, retry: { initialMs: 100, maxMs: 1000 } },
  });
  h.fake.script(echo);
});
afterAll(async () => {
  await h?.close();
  await tg?.close();
});

it('a delivery that keeps failing ends as failed after its budget, the operator sees it, and the conversation answers the next message', async () => {
  const channelId = `channel:main:telegram:${chat.id}`;
  // As many refusals as the budget has attempts: each attempt is told to come back in a second.
  for (let i = 0; i < DELIVERY_MAX_ATTEMPTS; i++) tg.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 1', retry_after: 1 });
  tg.inject({ chat, from: bob, text: 'first question' });
  const failed = await eventually(
    async () => {
      const row = await h.database.db.selectFrom('deliveries').selectAll().where('channel_id', '=', channelId).executeTakeFirst();
      return row?.status === 'failed' ? row : undefined;
    },
    90_000,
    'the first reply to be given up as failed',
  );
  expect(failed.attempts).toBe(DELIVERY_MAX_ATTEMPTS);
  expect(failed.last_error).toMatch(/Too Many Requests/);
  const calls = () => tg.calls.filter((c) => c.method === 'sendMessage' && Number(c.payload.chat_id) === chat.id);
  expect(calls()).toHaveLength(DELIVERY_MAX_ATTEMPTS);

  const listed = await h.request('GET', '/v1/deliveries?status=failed&agent=main');
  expect(listed.status).toBe(200);
  expect(listed.body.deliveries).toEqual([
    expect.objectContaining({ key: failed.key, agent: 'main', platform: 'telegram', conversation: String(chat.id), status: 'failed', attempts: DELIVERY_MAX_ATTEMPTS, lastError: expect.stringMatching(/Too Many Requests/) }),
  ]);
  const refused = await h.request('GET', '/v1/deliveries?status=lost');
  expect(refused.status).toBe(400);
  expect(refused.body).toMatchObject({ error: 'invalid_request', field: 'status' });

  // The platform has recovered: the next message is answered (and the given-up reply stays unposted).
  tg.inject({ chat, from: bob, text: 'second question' });
  await eventually(async () => (tg.sent.some((m) => m.chat_id === chat.id) ? true : undefined), 60_000, 'the second reply');
  expect(tg.sent.filter((m) => m.chat_id === chat.id).map((m) => m.text)).toEqual([expect.stringContaining('second question')]);
});
