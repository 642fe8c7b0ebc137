import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { adapterToml } from '../helpers/gateway.js';
import { startFakeTelegram, type FakeChat, type FakeTelegram, type FakeUser } from '../fake-platforms/telegram/server.js';
import { statusQuery } from '../../workflows/channel-contract.js';

/**
 * Review finding: one full conversation stalled Telegram for every user. The gateway retried a
 * conversation's full queue (ConversationBusyError) without end, and the Telegram adapter waited for
 * those retries before polling again: one user sending a burst in their own chat stopped getUpdates
 * for all chats. Now a busy conversation's messages wait in its own bounded lane (conversation-lanes.ts),
 * the adapter polls on, and past the bounds the messages are dropped with one slow-down notice.
 */
const MAX_PENDING = 2;
const flooder: FakeUser = { id: 9101, is_bot: false, first_name: 'Flood' };
const other: FakeUser = { id: 9202, is_bot: false, first_name: 'Other' };
const flooderChat: FakeChat = { id: flooder.id, type: 'private' };
const otherChat: FakeChat = { id: other.id, type: 'private' };

let tg: FakeTelegram;
let h: Harness;
let floodCalls = 0;

beforeAll(async () => {
  tg = await startFakeTelegram();
  h = await createHarness({
    toml: `max_pending_messages = ${MAX_PENDING}\n` + adapterToml('telegram', 'default', { api_root: tg.url, poll_timeout_seconds: 2 }),
    gateway: { env: { TELEGRAM_BOT_TOKEN: tg.token }, retry: { initialMs: 100, maxMs: 1000 } },
  });
  // The flooder's first turn holds their conversation for 30 s, so its queue stays full meanwhile.
  h.fake.script((req) => {
    const last = req.lastUserText ?? '';
    if (last.includes('FLOOD')) return { text: 'flood answer', delayMs: ++floodCalls === 1 ? 30_000 : 0 };
    return { text: `answer: ${last}` };
  });
});
afterAll(async () => {
  await h?.close();
  await tg?.close();
});

const sentTo = (chatId: number) => tg.sent.filter((m) => m.chat_id === chatId);

it('a flooding chat does not hold up another chat, gets one slow-down notice, and its excess is dropped, not retried forever', async () => {
  tg.inject({ chat: flooderChat, from: flooder, text: 'FLOOD 0' });
  await eventually(() => (floodCalls >= 1 ? true : undefined), 30_000, "the flooder's first turn");
  // Two fill the queue, the rest are refused: more than the lane holds, in one getUpdates answer.
  const burst = tg.injectBatch(Array.from({ length: 9 }, (_, i) => ({ chat: flooderChat, from: flooder, text: `FLOOD ${i + 1}` })));
  const lastFlood = burst.at(-1)!.updateId;

  // The adapter acknowledges the whole burst and polls again while the flooder's turn still runs.
  await eventually(
    () => (tg.calls.some((c) => c.method === 'getUpdates' && Number(c.payload.offset) > lastFlood) ? true : undefined),
    20_000,
    'a getUpdates past the burst',
  );
  tg.inject({ chat: otherChat, from: other, text: 'are you there?' });
  const [answer] = await eventually(() => (sentTo(otherChat.id).length ? sentTo(otherChat.id) : undefined), 30_000, "the other chat's answer");
  expect(answer!.text).toContain('answer:');
  // ... before the flooder's first turn has even finished.
  expect(sentTo(flooderChat.id).filter((m) => m.text.includes('flood answer'))).toEqual([]);

  // The flooder is told to slow down.
  await eventually(() => (sentTo(flooderChat.id).some((m) => /slow down/i.test(m.text)) ? true : undefined), 30_000, 'the slow-down notice');

  // Once the flooder's conversation is idle again: what was dropped stayed dropped (bounded retries),
  // and the burst got one notice, not one per dropped message.
  await eventually(
    async () => {
      const status = await h.env.client.workflow.getHandle(`channel:main:telegram:${flooderChat.id}`).query(statusQuery).catch(() => undefined);
      return status && !status.running && status.queued === 0 && sentTo(flooderChat.id).some((m) => m.text.includes('flood answer')) ? status : undefined;
    },
    90_000,
    "the flooder's conversation to be idle",
  );
  const inbound = await h.database.db
    .selectFrom('messages')
    .select('text')
    .where('channel_id', '=', `channel:main:telegram:${flooderChat.id}`)
    .where('direction', '=', 'inbound')
    .execute();
  // The running message, the queue's two, and at most the lane's waiting ones; never the whole burst.
  expect(inbound.length).toBeGreaterThanOrEqual(1 + MAX_PENDING);
  expect(inbound.length).toBeLessThan(10);
  expect(sentTo(flooderChat.id).filter((m) => /slow down/i.test(m.text))).toHaveLength(1);
});
