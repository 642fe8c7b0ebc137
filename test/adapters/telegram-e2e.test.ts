import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { adapterToml, agentsToml, bindingsToml } from '../helpers/gateway.js';
import { startFakeTelegram, type FakeChat, type FakeTelegram, type FakeUser } from '../fake-platforms/telegram/server.js';
import type { ScriptHandler } from '../fake-llm/server.js';

/**
 * Telegram end to end: the fake Bot API ← grammY ← the gateway → Temporal dev server → the real
 * worker → the fake LLM → the delivery activity → grammY → the fake Bot API.
 */
const alice: FakeUser = { id: 42, is_bot: false, first_name: 'Alice' };
const supportGroup: FakeChat = { id: -2002, type: 'supergroup', title: 'Support' };
const teamGroup: FakeChat = { id: -3003, type: 'supergroup', title: 'Team' };

/** The model answers every user message with the reply tool, echoing it; long: asks for a long answer. */
const echo: ScriptHandler = (req) => {
  if (req.messages[req.messages.length - 1]?.role === 'tool') return { text: '' };
  const last = req.lastUserText ?? '';
  const text = last.includes('long please') ? Array.from({ length: 300 }, (_, i) => `Line ${i}: ${'lorem ipsum '.repeat(3)}`).join('\n') : `echo: ${last}`;
  return { toolCalls: [{ name: 'reply', input: { text } }] };
};

describe('Telegram through the gateway, the worker and Temporal', () => {
  let tg: FakeTelegram;
  let h: Harness;

  beforeAll(async () => {
    tg = await startFakeTelegram();
    h = await createHarness({
      toml:
        agentsToml(['main', 'support']) +
        adapterToml('telegram', 'default', { api_root: tg.url, poll_timeout_seconds: 2 }) +
        // A second account whose token the Bot API refuses: it fails alone, the first keeps working.
        adapterToml('telegram', 'revoked', { api_root: tg.url, token: '555:revoked-token-value' }) +
        bindingsToml([{ agent: 'support', platform: 'telegram', chat: String(supportGroup.id) }]),
      gateway: { env: { TELEGRAM_BOT_TOKEN: tg.token }, retry: { initialMs: 100, maxMs: 1000 } },
    });
  });
  afterAll(async () => {
    await h?.close();
    await tg?.close();
  });
  beforeEach(() => {
    h.fake.reset();
    h.fake.script(echo);
  });

  const sentTo = (chatId: number) => tg.sent.filter((m) => m.chat_id === chatId);
  const workflowExists = async (id: string) =>
    h.env.client.workflow
      .getHandle(id)
      .describe()
      .then(() => true)
      .catch(() => false);

  it('reports adapter status on /v1/adapters and /health: a failed account degrades health but keeps 200', async () => {
    const adapters = await eventually(async () => {
      const res = await h.request('GET', '/v1/adapters');
      const list = res.body.adapters as { state: string }[];
      return list[0]?.state === 'connected' && list[1]?.state === 'failed' ? list : undefined;
    }, 15_000, 'the recorded statuses');
    expect(adapters).toEqual([
      expect.objectContaining({ kind: 'telegram', instance: 'default', platform: 'telegram', state: 'connected', botUser: '@spacebot_test_bot', stale: false }),
      expect.objectContaining({ kind: 'telegram', instance: 'revoked', platform: 'telegram-revoked', state: 'failed', lastError: expect.stringMatching(/401/) }),
    ]);
    const health = await fetch(`${h.baseUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'degraded', temporal: { ok: true }, database: { ok: true }, adapters: [{ state: 'connected' }, { state: 'failed' }] });
    expect(JSON.stringify(adapters)).not.toContain('revoked-token-value');
    expect(JSON.stringify(adapters)).not.toContain(tg.token);
  });

  it('answers a private message in that chat, replying to the message', async () => {
    const before = sentTo(alice.id).length;
    const { messageId } = tg.inject({ chat: { id: alice.id, type: 'private' }, from: alice, text: 'hello from telegram' });
    const [reply] = await eventually(async () => (sentTo(alice.id).length > before ? sentTo(alice.id).slice(before) : undefined), 30_000, 'the reply');
    expect(reply).toMatchObject({ chat_id: alice.id, reply_to_message_id: messageId, parse_mode: 'HTML' });
    expect(reply!.text).toContain('hello from telegram');
    expect(await workflowExists(`channel:main:telegram:${alice.id}`)).toBe(true);
    const inbound = await h.database.db
      .selectFrom('messages')
      .select(['platform_message_id', 'text'])
      .where('channel_id', '=', `channel:main:telegram:${alice.id}`)
      .where('direction', '=', 'inbound')
      .execute();
    expect(inbound).toEqual([{ platform_message_id: String(messageId), text: 'hello from telegram' }]);
  });

  it('splits a long reply at 4,096 characters without losing a line', async () => {
    const chat: FakeChat = { id: 4242, type: 'private' };
    tg.inject({ chat, from: { ...alice, id: 4242 }, text: 'long please' });
    const parts = await eventually(async () => {
      const sent = sentTo(chat.id);
      return sent.length && sent.map((m) => m.text).join('\n').includes('Line 299:') ? sent : undefined;
    }, 30_000, 'every part');
    expect(parts.length).toBeGreaterThanOrEqual(2);
    for (const part of parts) expect(part.text.length).toBeLessThanOrEqual(4096);
    const lines = parts.flatMap((p) => p.text.split('\n')).filter((l) => l.startsWith('Line '));
    expect(lines.map((l) => Number(/^Line (\d+)/.exec(l)![1]))).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  it('ignores a filtered message: no workflow is started', async () => {
    tg.inject({ chat: teamGroup, from: alice, text: 'just chatting, no mention' });
    // A mention in another group after it: once that is answered, the first was processed (updates are in order).
    tg.inject({ chat: { id: -5005, type: 'group' }, from: alice, text: '@spacebot_test_bot marker' });
    await eventually(async () => (sentTo(-5005).length ? true : undefined), 30_000, 'the marker reply');
    expect(await workflowExists(`channel:main:telegram:${teamGroup.id}`)).toBe(false);
    expect(sentTo(teamGroup.id)).toEqual([]);
  });

  it('routes two chats to two agents through the bindings', async () => {
    tg.inject({ chat: supportGroup, from: alice, text: '@spacebot_test_bot I need help' });
    tg.inject({ chat: teamGroup, from: alice, text: '@spacebot_test_bot standup?' });
    await eventually(async () => (sentTo(supportGroup.id).length && sentTo(teamGroup.id).length ? true : undefined), 30_000, 'both replies');
    expect(await workflowExists(`channel:support:telegram:${supportGroup.id}`)).toBe(true);
    expect(await workflowExists(`channel:main:telegram:${teamGroup.id}`)).toBe(true);
    expect(await workflowExists(`channel:main:telegram:${supportGroup.id}`)).toBe(false);
    expect(sentTo(supportGroup.id)[0]!.text).toContain('I need help');
    expect(sentTo(teamGroup.id)[0]!.text).toContain('standup?');
  });

  it('delivers once after a 429, waiting the retry_after', async () => {
    const chat: FakeChat = { id: 777, type: 'private' };
    tg.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 2', retry_after: 2 });
    tg.inject({ chat, from: { ...alice, id: 777 }, text: 'rate limit me' });
    await eventually(async () => (sentTo(chat.id).length ? true : undefined), 30_000, 'the delivered reply');
    const attempts = tg.calls.filter((c) => c.method === 'sendMessage' && Number(c.payload.chat_id) === chat.id);
    expect(attempts).toHaveLength(2);
    // Temporal's own first retry would come after 1 s; the platform asked for 2.
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(1900);
    expect(sentTo(chat.id)).toHaveLength(1);
    const delivery = await h.database.db.selectFrom('deliveries').selectAll().where('channel_id', '=', 'channel:main:telegram:777').executeTakeFirstOrThrow();
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('loses and doubles nothing when the long poll drops', async () => {
    const chat: FakeChat = { id: 888, type: 'private' };
    const from = { ...alice, id: 888 };
    await eventually(async () => (tg.pendingPolls() > 0 ? true : undefined), 10_000, 'a held poll');
    // The poll held now answers; the next one is dropped as the second and third messages arrive.
    tg.dropNextPolls(2);
    const first = tg.inject({ chat, from, text: 'first' });
    await eventually(async () => (tg.pendingPolls() > 0 ? true : undefined), 10_000, 'the next poll');
    const second = tg.inject({ chat, from, text: 'second' });
    const third = tg.inject({ chat, from, text: 'third' });
    // Messages arriving during a turn may be answered together (queue mode), so wait for the last one's answer.
    await eventually(async () => (sentTo(chat.id).some((m) => m.text.includes('third')) ? true : undefined), 45_000, 'the answer to the third');
    const inbound = await h.database.db
      .selectFrom('messages')
      .select(['platform_message_id'])
      .where('channel_id', '=', 'channel:main:telegram:888')
      .where('direction', '=', 'inbound')
      .orderBy('created_at')
      .execute();
    expect(inbound.map((m) => m.platform_message_id).sort()).toEqual([first.messageId, second.messageId, third.messageId].map(String).sort());
    expect(h.gateway!.statuses()[0]).toMatchObject({ kind: 'telegram', state: 'connected' });
  });
});
