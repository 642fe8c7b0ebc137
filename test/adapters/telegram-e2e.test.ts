import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createHarness, eventually, workflowExists, type Harness } from '../helpers/harness.js';
import { adapterToml, agentsToml, bindingsToml } from '../helpers/gateway.js';
import { startFakeTelegram, type FakeChat, type FakeTelegram, type FakeUser } from '../fake-platforms/telegram/server.js';
import type { ScriptHandler, ScriptStep } from '../fake-llm/server.js';
import { statusQuery } from '../../workflows/channel-contract.js';
import { words } from '../helpers/words.js';
import { recordHistories } from '../helpers/histories.js';

/**
 * Telegram end to end: the fake Bot API ← grammY ← the gateway → Temporal dev server → the real
 * worker → the fake LLM → the delivery activity → grammY → the fake Bot API. Besides replies: the
 * typing action while a turn runs, the `react` tool, and a streamed reply edited in place.
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

/**
 * `echo`, except that a user message ending with `text` (the model sees it after the sender, `[Alice] …`)
 * gets `step`; the follow-up call after tool results still gets echo's empty answer.
 */
const answering = (text: string, step: ScriptStep): ScriptHandler => (req) =>
  req.messages[req.messages.length - 1]?.role !== 'tool' && (req.lastUserText ?? '').endsWith(text) ? step : echo(req);

describe('Telegram through the gateway, the worker and Temporal', () => {
  let tg: FakeTelegram;
  let h: Harness;

  beforeAll(async () => {
    tg = await startFakeTelegram();
    h = await createHarness({
      toml:
        // Streaming is on by default; said explicitly, as the streamed-reply test depends on it.
        '\n[[agents]]\nid = "main"\nstreaming = true\n' +
        agentsToml(['support']) +
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
  const callsTo = (method: string, chatId: number) => tg.calls.filter((c) => c.method === method && Number(c.payload.chat_id) === chatId);
  /** Waits until the chat's conversation has finished `turns` turns and has nothing running or queued. */
  const idle = (chatId: number, turns = 1) =>
    eventually(
      async () => {
        const status = await h.env.client.workflow
          .getHandle(`channel:main:telegram:${chatId}`)
          .query(statusQuery)
          .catch(() => undefined);
        return status && !status.running && status.queued === 0 && status.completedTurns >= turns ? status : undefined;
      },
      45_000,
      `conversation ${chatId} to be idle`,
    );

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
    const health = await h.request('GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'degraded', temporal: { ok: true }, database: { ok: true }, adapters: [{ state: 'connected' }, { state: 'failed' }] });
    expect(JSON.stringify(adapters)).not.toContain('revoked-token-value');
    expect(JSON.stringify(adapters)).not.toContain(tg.token);
  });

  it('answers a private message in that chat, replying to the message', async () => {
    const before = sentTo(alice.id).length;
    const { messageId } = tg.inject({ chat: { id: alice.id, type: 'private' }, from: alice, text: 'hello from telegram' });
    const [reply] = await eventually(async () => (sentTo(alice.id).length > before ? sentTo(alice.id).slice(before) : undefined), 30_000, 'the reply');
    expect(reply).toMatchObject({ chat_id: alice.id, reply_to_message_id: messageId, parse_mode: 'HTML' });
    expect(reply!.text).toContain('hello from telegram');
    expect(await workflowExists(h, `channel:main:telegram:${alice.id}`)).toBe(true);
    const inbound = await h.database.db
      .selectFrom('messages')
      .select(['platform_message_id', 'text'])
      .where('channel_id', '=', `channel:main:telegram:${alice.id}`)
      .where('direction', '=', 'inbound')
      .execute();
    expect(inbound).toEqual([{ platform_message_id: String(messageId), text: 'hello from telegram' }]);
    // A replay fixture of a chat platform's channel: its reply is a deliverReply activity, not a local one.
    await idle(alice.id);
    await recordHistories(h.env, `channel:main:telegram:${alice.id}`, 'telegram-reply');
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
    expect(await workflowExists(h, `channel:main:telegram:${teamGroup.id}`)).toBe(false);
    expect(sentTo(teamGroup.id)).toEqual([]);
  });

  it('routes two chats to two agents through the bindings', async () => {
    tg.inject({ chat: supportGroup, from: alice, text: '@spacebot_test_bot I need help' });
    tg.inject({ chat: teamGroup, from: alice, text: '@spacebot_test_bot standup?' });
    await eventually(async () => (sentTo(supportGroup.id).length && sentTo(teamGroup.id).length ? true : undefined), 30_000, 'both replies');
    expect(await workflowExists(h, `channel:support:telegram:${supportGroup.id}`)).toBe(true);
    expect(await workflowExists(h, `channel:main:telegram:${teamGroup.id}`)).toBe(true);
    expect(await workflowExists(h, `channel:main:telegram:${supportGroup.id}`)).toBe(false);
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
    // The row is marked delivered just after the post reached the platform: wait for that write.
    const delivery = await eventually(async () => {
      const row = await h.database.db.selectFrom('deliveries').selectAll().where('channel_id', '=', 'channel:main:telegram:777').executeTakeFirstOrThrow();
      return row.status === 'pending' ? undefined : row;
    }, 30_000, 'the delivery row to settle');
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('shows typing while the turn runs, refreshes it while the model is slow, and stops after the turn', async () => {
    const chat: FakeChat = { id: 6101, type: 'private' };
    // Slower than the 5 s refresh: Telegram hides "typing" after about 5 s, so it must be sent again.
    h.fake.script(answering('think slowly', { toolCalls: [{ name: 'reply', input: { text: 'done thinking' } }], delayMs: 6_500 }));
    const { messageId } = tg.inject({ chat, from: { ...alice, id: chat.id }, text: 'think slowly' });
    await eventually(async () => (sentTo(chat.id).length ? true : undefined), 30_000, 'the reply');
    await idle(chat.id);
    const [reply] = callsTo('sendMessage', chat.id);
    expect(reply!.payload).toMatchObject({ text: 'done thinking', reply_parameters: { message_id: messageId } });
    const typing = callsTo('sendChatAction', chat.id);
    expect(typing.every((c) => c.payload.action === 'typing')).toBe(true);
    // While the slow call ran, before the reply: once at its start, again after the refresh interval.
    const beforeReply = typing.filter((c) => c.at < reply!.at);
    expect(beforeReply.length).toBeGreaterThanOrEqual(2);
    expect(beforeReply[1]!.at - beforeReply[0]!.at).toBeGreaterThanOrEqual(4_500);
    expect(beforeReply[1]!.at - beforeReply[0]!.at).toBeLessThan(6_500);
    expect(tg.chatActions.filter((a) => a.chat_id === chat.id)).toHaveLength(typing.length);
    // The turn is over: no refresh outlives it (one would come within 5 s).
    await sleep(300);
    const settled = callsTo('sendChatAction', chat.id).length;
    await sleep(5_700);
    expect(callsTo('sendChatAction', chat.id)).toHaveLength(settled);
  }, 60_000);

  it('sets the reaction the model asks for with the react tool on the message that triggered the turn', async () => {
    const chat: FakeChat = { id: 6202, type: 'private' };
    const from = { ...alice, id: chat.id };
    h.fake.script(answering('react to this', { toolCalls: [{ name: 'react', input: { emoji: '👍' } }, { name: 'reply', input: { text: 'on it' } }] }));
    // An earlier message and the bot's answer to it: the reaction must go to the later one, not these.
    const earlier = tg.inject({ chat, from, text: 'earlier message' });
    await eventually(async () => (sentTo(chat.id).length ? true : undefined), 30_000, 'the first reply');
    await idle(chat.id);
    const { messageId } = tg.inject({ chat, from, text: 'react to this' });
    await eventually(async () => (sentTo(chat.id).some((m) => m.text === 'on it') ? true : undefined), 30_000, 'the second reply');
    await idle(chat.id, 2);
    expect(messageId).not.toBe(earlier.messageId);
    expect(tg.reactions.filter((r) => r.chat_id === chat.id)).toEqual([{ chat_id: chat.id, message_id: messageId, reaction: [{ type: 'emoji', emoji: '👍' }] }]);
    expect(sentTo(chat.id).find((m) => m.text === 'on it')).toMatchObject({ reply_to_message_id: messageId });
    // The model is told the reaction worked.
    const results = h.fake.requests.flatMap((r) => r.neutral?.messages.flatMap((m) => m.toolResults ?? []) ?? []);
    expect(results).toContainEqual(expect.objectContaining({ text: expect.stringContaining('Reacted with 👍') }));
    expect(results.filter((r) => r.text.includes('Reacted with')).every((r) => !r.isError)).toBe(true);
  });

  /** Asserts one streamed message: a single sendMessage, then edits of that message ending with `final` (as Telegram HTML). */
  async function expectEditedInPlace(chatId: number, triggerId: number, final: string): Promise<{ sends: number; edits: { text: string; at: number }[] }> {
    await idle(chatId);
    const sends = callsTo('sendMessage', chatId);
    const edits = callsTo('editMessageText', chatId);
    // One message: the draft, posted once (answering the user's message, like any reply) and never again.
    expect(sends).toHaveLength(1);
    expect(sentTo(chatId)).toHaveLength(1);
    const [draft] = sentTo(chatId);
    expect(draft!.reply_to_message_id).toBe(triggerId);
    expect(String(sends[0]!.payload.text).length).toBeLessThan(final.length);
    // Edited while streaming and once more by the delivery, always that same message.
    expect(edits.length).toBeGreaterThanOrEqual(2);
    expect(edits.every((e) => Number(e.payload.message_id) === draft!.message_id)).toBe(true);
    expect(edits.every((e) => e.at >= sends[0]!.at)).toBe(true);
    expect(edits.at(-1)!.payload).toMatchObject({ text: final, parse_mode: 'HTML' });
    expect(draft!.text).toBe(final);
    // (An edit to the text already shown is refused by Telegram and not counted by the fake.)
    expect(tg.edits.filter((e) => e.chat_id === chatId && e.text === final)).toHaveLength(1);
    const deliveries = await h.database.db.selectFrom('deliveries').select(['platform_message_id', 'status']).where('channel_id', '=', `channel:main:telegram:${chatId}`).execute();
    expect(deliveries).toEqual([{ platform_message_id: String(draft!.message_id), status: 'delivered' }]);
    return { sends: sends.length, edits: edits.map((e) => ({ text: String(e.payload.text), at: e.at })) };
  }

  it('streams a slow answer into one message: sent once, edited in place, finalised with the complete text', async () => {
    const chat: FakeChat = { id: 6303, type: 'private' };
    // About 5 s of words: a draft after the first second, edits about once a second, then the final.
    const answer = `**Streaming** ${words(60, 'delta')}`;
    const rendered = `<b>Streaming</b> ${words(60, 'delta')}`;
    h.fake.script(answering('stream it', { text: answer, chunkDelayMs: 80 }));
    const { messageId } = tg.inject({ chat, from: { ...alice, id: chat.id }, text: 'stream it' });
    await eventually(async () => (sentTo(chat.id)[0]?.text === rendered ? true : undefined), 30_000, 'the complete text');
    const { edits } = await expectEditedInPlace(chat.id, messageId, rendered);
    // The draft grows: every edit shows more of the same answer (a repeat of the text shown changes nothing).
    const shown = [String(callsTo('sendMessage', chat.id)[0]!.payload.text), ...edits.map((e) => e.text)];
    for (const [i, text] of shown.entries()) {
      expect(rendered.startsWith(text)).toBe(true);
      if (i > 0) expect(text.length).toBeGreaterThanOrEqual(shown[i - 1]!.length);
    }
    expect(new Set(shown).size).toBeGreaterThanOrEqual(3);
    // Coalesced to about one edit a second, not one per streamed word (61 of them).
    expect(edits.length).toBeLessThanOrEqual(10);
    // The transcript holds the answer once.
    const outbound = await h.database.db.selectFrom('messages').select('text').where('channel_id', '=', `channel:main:telegram:${chat.id}`).where('direction', '=', 'outbound').execute();
    expect(outbound).toEqual([{ text: answer }]);
  });

  it('streams a reply tool call the same way: one message, edited into the full reply', async () => {
    const chat: FakeChat = { id: 6404, type: 'private' };
    const text = `Here is the answer: ${words(30, 'zeta')}`;
    // The tool's JSON arrives in a few slow fragments: a draft from the first, an edit, then the final.
    h.fake.script(answering('stream the tool', { toolCalls: [{ name: 'reply', input: { text } }], chunkDelayMs: 800 }));
    const { messageId } = tg.inject({ chat, from: { ...alice, id: chat.id }, text: 'stream the tool' });
    await eventually(async () => (sentTo(chat.id)[0]?.text === text ? true : undefined), 30_000, 'the complete reply');
    await expectEditedInPlace(chat.id, messageId, text);
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
