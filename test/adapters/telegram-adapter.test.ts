import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { InboundEvent } from '../../adapters/inbound.js';
import { PlatformError } from '../../adapters/platform-error.js';
import { TelegramAdapter } from '../../adapters/telegram/adapter.js';
import { telegramInstanceSchema, type TelegramInstanceInput } from '../../adapters/telegram/config.js';
import { markdownToTelegramHtml } from '../../adapters/telegram/format.js';
import { eventually } from '../helpers/harness.js';
import { freePorts } from '../helpers/ports.js';
import { startFakeTelegram, type FakeChat, type FakeTelegram, type FakeUser } from '../fake-platforms/telegram/server.js';

const alice: FakeUser = { id: 42, is_bot: false, first_name: 'Alice', username: 'alice' };
const otherBot: FakeUser = { id: 77, is_bot: true, first_name: 'Other bot' };
const dm: FakeChat = { id: 42, type: 'private' };
const group: FakeChat = { id: -1001234, type: 'supergroup', title: 'Team' };

/** A logger whose output the test can read, to prove the token never reaches it. */
function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe('Telegram adapter against the fake Bot API', () => {
  let fake: FakeTelegram;
  const adapters: TelegramAdapter[] = [];

  beforeAll(async () => {
    fake = await startFakeTelegram();
  });
  afterEach(async () => {
    for (const adapter of adapters.splice(0)) await adapter.stop();
  });
  afterAll(async () => {
    await fake.close();
  });

  async function start(overrides: TelegramInstanceInput = {}, log = capturingLogger()) {
    const config = telegramInstanceSchema.parse({ api_root: fake.url, poll_timeout_seconds: 5, ...overrides });
    const adapter = new TelegramAdapter('default', config, log.logger, { TELEGRAM_BOT_TOKEN: fake.token });
    adapters.push(adapter);
    const events: InboundEvent[] = [];
    await adapter.start(async (event) => {
      events.push(event);
    });
    return { adapter, events, log };
  }

  it('turns a private message into an event and reports itself connected', async () => {
    const { adapter, events } = await start();
    expect(adapter.status()).toMatchObject({ kind: 'telegram', instance: 'default', state: 'connected', botUser: '@spacebot_test_bot' });
    const { messageId } = fake.inject({ chat: dm, from: alice, text: 'hello bot' });
    const [event] = await eventually(async () => (events.length ? events : undefined), 10_000, 'the event');
    expect(event).toMatchObject({
      kind: 'telegram',
      platform: 'telegram',
      conversationId: '42',
      messageId: String(messageId),
      text: 'hello bot',
      sender: { id: '42', name: 'Alice', isBot: false },
      coordinates: { chatId: '42', isDirect: true },
    });
  });

  it('applies the filters: mention or reply required in groups, allowed chats, DM allowlist, bots', async () => {
    const { events } = await start({ allowed_chats: [group.id, 42, 43], dm_allowlist: [42] });
    fake.inject({ chat: group, from: alice, text: 'talking among humans' });
    fake.inject({ chat: { id: -999, type: 'group' }, from: alice, text: '@spacebot_test_bot wrong chat' });
    fake.inject({ chat: { id: 43, type: 'private' }, from: { ...alice, id: 43 }, text: 'not on the allowlist' });
    fake.inject({ chat: group, from: otherBot, text: '@spacebot_test_bot I am a bot' });
    fake.inject({ chat: group, from: alice, text: '@spacebot_test_bot what time is it?' });
    fake.inject({ chat: group, from: alice, text: 'and this is a reply', replyToBotMessageId: 1 });
    fake.inject({ chat: group, from: alice, text: 'in a topic @spacebot_test_bot', topicId: 7 });
    await eventually(async () => (events.length >= 3 ? true : undefined), 10_000, 'three accepted events');
    // The marker message proves everything before it was processed (updates arrive in order).
    fake.inject({ chat: dm, from: alice, text: 'marker' });
    await eventually(async () => (events.some((e) => e.text === 'marker') ? true : undefined), 10_000, 'the marker');
    // Conversations are dispatched in parallel, so only the order within one conversation is fixed.
    const byConversation = (list: (string | boolean)[][]) => [...list].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(byConversation(events.map((e) => [e.conversationId, e.text, e.mentioned]))).toEqual(byConversation([
      [String(group.id), 'what time is it?', true],
      [String(group.id), 'and this is a reply', true],
      [`${group.id}.7`, 'in a topic', true],
      ['42', 'marker', true],
    ]));
    expect(events.find((e) => e.text === 'in a topic')!.coordinates).toMatchObject({ chatId: String(group.id), threadId: '7', parentChannelId: String(group.id), isDirect: false });
  });

  it('loses and doubles nothing when the long poll is dropped', async () => {
    const { adapter, events } = await start();
    await eventually(async () => (fake.pendingPolls() > 0 ? true : undefined), 10_000, 'a held poll');
    fake.dropNextPolls(1);
    // The poll already held answers normally; the next one is dropped the moment updates arrive.
    const first = fake.inject({ chat: dm, from: alice, text: 'one' });
    await eventually(async () => (events.length === 1 ? true : undefined), 10_000, 'the first message');
    await eventually(async () => (fake.pendingPolls() > 0 ? true : undefined), 10_000, 'the poll to be dropped');
    const second = fake.inject({ chat: dm, from: alice, text: 'two' });
    const third = fake.inject({ chat: dm, from: alice, text: 'three' });
    await eventually(async () => (events.length >= 3 ? true : undefined), 15_000, 'all three messages');
    fake.inject({ chat: dm, from: alice, text: 'four' });
    await eventually(async () => (events.length >= 4 ? true : undefined), 15_000, 'the fourth message');
    expect(events.map((e) => e.messageId)).toEqual([first.messageId, second.messageId, third.messageId].map(String).concat(events[3]!.messageId));
    expect(new Set(events.map((e) => e.messageId)).size).toBe(4);
    expect(adapter.status().state).toBe('connected');
  });

  it('does not acknowledge an update the sink refused: it comes again before the next one', async () => {
    const config = telegramInstanceSchema.parse({ api_root: fake.url, poll_timeout_seconds: 1 });
    const adapter = new TelegramAdapter('default', config, capturingLogger().logger, { TELEGRAM_BOT_TOKEN: fake.token });
    adapters.push(adapter);
    const seen: string[] = [];
    let refuse = true;
    await adapter.start(async (event) => {
      seen.push(event.text);
      if (refuse && event.text === 'refused once') {
        refuse = false;
        throw new Error('gateway stopping');
      }
    });
    fake.inject({ chat: dm, from: alice, text: 'refused once' });
    fake.inject({ chat: dm, from: alice, text: 'next' });
    await eventually(async () => (seen.includes('next') ? true : undefined), 15_000, 'the next message');
    expect(seen).toEqual(['refused once', 'refused once', 'next']);
  });

  it('keeps other conversations moving while one waits on the gateway', async () => {
    const config = telegramInstanceSchema.parse({ api_root: fake.url, poll_timeout_seconds: 1 });
    const adapter = new TelegramAdapter('default', config, capturingLogger().logger, { TELEGRAM_BOT_TOKEN: fake.token });
    adapters.push(adapter);
    const seen: string[] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    await adapter.start(async (event) => {
      seen.push(event.text);
      if (event.text === 'slow') await held;
    });
    await eventually(async () => (fake.pendingPolls() > 0 ? true : undefined), 10_000, 'a held poll');
    // One getUpdates answer carries both, the slow conversation's message first.
    fake.injectBatch([
      { chat: { id: 501, type: 'private' }, from: { ...alice, id: 501 }, text: 'slow' },
      { chat: { id: 502, type: 'private' }, from: { ...alice, id: 502 }, text: 'quick' },
    ]);
    await eventually(async () => (seen.includes('slow') ? true : undefined), 10_000, 'the slow message');
    await eventually(async () => (seen.includes('quick') ? true : undefined), 10_000, 'the quick message while the slow one is held');
    release();
  });

  it('sends replies as HTML replying to the message, split at 4,096 with code blocks intact', async () => {
    const { adapter } = await start();
    const short = await adapter.outbound.send({ deliveryKey: 'd1', conversationId: '42', text: 'Hi **Alice** <3 & you', replyTo: '5' });
    const sent = fake.sent.find((m) => String(m.message_id) === short.platformMessageId && m.chat_id === 42)!;
    expect(sent).toMatchObject({ text: 'Hi <b>Alice</b> &lt;3 &amp; you', parse_mode: 'HTML', reply_to_message_id: 5 });

    const code = '```js\n' + Array.from({ length: 400 }, (_, i) => `console.log("line ${i}");`).join('\n') + '\n```';
    const long = `Here you go:\n\n${code}\n\n${'Some closing words. '.repeat(100)}`;
    const before = fake.sent.length;
    const result = await adapter.outbound.send({ deliveryKey: 'd2', conversationId: '42', text: long, replyTo: '6' });
    const parts = fake.sent.slice(before);
    expect(parts.length).toBeGreaterThan(2);
    expect(result.partIds).toEqual(parts.map((p) => String(p.message_id)));
    expect(parts[0]!.reply_to_message_id).toBe(6);
    expect(parts.slice(1).every((p) => p.reply_to_message_id === undefined)).toBe(true);
    for (const part of parts) {
      expect(part.parse_mode).toBe('HTML');
      // Every part carries balanced markup (the fake refuses otherwise) and the code stays code.
      expect((part.text.match(/<pre>/g) ?? []).length).toBe((part.text.match(/<\/pre>/g) ?? []).length);
    }
    const lines = parts.map((p) => p.text).join('\n').match(/console\.log\(&quot;line \d+&quot;\);|console\.log\("line \d+"\);/g) ?? [];
    expect(lines).toHaveLength(400);
  });

  it('edits in place, reacts and sends the typing action', async () => {
    const { adapter } = await start();
    const { platformMessageId } = await adapter.outbound.send({ deliveryKey: 'd3', conversationId: '42', text: 'Thinking' });
    await adapter.outbound.edit('42', platformMessageId, 'Thinking about *it*');
    await adapter.outbound.edit('42', platformMessageId, 'Thinking about *it*'); // unchanged: not an error
    expect(fake.edits.filter((e) => String(e.message_id) === platformMessageId)).toEqual([
      { chat_id: 42, message_id: Number(platformMessageId), text: 'Thinking about <i>it</i>', parse_mode: 'HTML' },
    ]);
    await adapter.outbound.react('42', '3', '👍');
    expect(fake.reactions.at(-1)).toEqual({ chat_id: 42, message_id: 3, reaction: [{ type: 'emoji', emoji: '👍' }] });
    await adapter.outbound.typing('-1001234.7');
    expect(fake.chatActions.at(-1)).toEqual({ chat_id: -1001234, action: 'typing' });
    expect(fake.calls.filter((c) => c.method === 'sendChatAction').at(-1)!.payload).toMatchObject({ message_thread_id: 7 });
    expect(adapter.outbound.maxMessageChars).toBe(4096);
    expect(adapter.outbound.minEditIntervalMs).toBeGreaterThanOrEqual(1000);
  });

  it('reports 429 with its retry_after, and resumes a split reply from its recorded progress without reposting parts', async () => {
    const { adapter } = await start();
    const text = 'First paragraph. '.repeat(200) + '\n\n' + 'Second paragraph. '.repeat(200);
    const before = fake.sent.length;
    fake.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 3', retry_after: 3 });
    // The first part fails: nothing posted yet.
    const error = await adapter.outbound.send({ deliveryKey: 'd4', conversationId: '42', text }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(PlatformError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 3000, permanent: false });
    expect(fake.sent.length).toBe(before);
    // Now the second part fails: the retry posts only the second.
    const calls = () => fake.calls.filter((c) => c.method === 'sendMessage').length;
    const callsBefore = calls();
    fake.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests', retry_after: 1 }, 1);
    // The delivery outbox's progress (kept in the deliveries row in production): parts recorded as posted.
    const recorded: string[] = [];
    const progress = () => ({ posted: [...recorded], record: async (index: number, id: string) => void (recorded[index] = id) });
    const failed = await adapter.outbound.send({ deliveryKey: 'd5', conversationId: '42', text, progress: progress() }).catch((err: unknown) => err);
    expect(failed).toMatchObject({ status: 429, retryAfterMs: 1000 });
    expect(fake.sent.length).toBe(before + 1);
    expect(recorded).toEqual([String(fake.sent[before]!.message_id)]);
    const result = await adapter.outbound.send({ deliveryKey: 'd5', conversationId: '42', text, progress: progress() });
    const posted = fake.sent.slice(before);
    expect(posted).toHaveLength(2);
    expect(result.partIds).toEqual(posted.map((p) => String(p.message_id)));
    expect(calls() - callsBefore).toBe(3);
  });

  it('treats a bad token as permanent, fails the adapter and never logs or reports the token', async () => {
    const log = capturingLogger();
    const config = telegramInstanceSchema.parse({ api_root: fake.url, poll_timeout_seconds: 1 });
    const badToken = '999999:WRONG-secret-token-value';
    const adapter = new TelegramAdapter('default', config, log.logger, { TELEGRAM_BOT_TOKEN: badToken });
    adapters.push(adapter);
    await adapter.start(async () => undefined);
    const status = adapter.status();
    expect(status.state).toBe('failed');
    expect(status.lastError).toMatch(/401/);
    const error = await adapter.outbound.send({ deliveryKey: 'd6', conversationId: '42', text: 'hi' }).catch((err: unknown) => err);
    expect(error).toMatchObject({ permanent: true, status: 401 });
    expect((error as Error).message).toMatch(/bot token/);
    const everything = [status.lastError, (error as Error).message, ...log.lines].join('\n');
    expect(everything).not.toContain(badToken);
    expect(everything).not.toContain('WRONG-secret');
    expect(log.lines.length).toBeGreaterThan(0);
  });

  it('keeps reconnecting while the Bot API is unreachable, with the token scrubbed from the error', async () => {
    const log = capturingLogger();
    const [port] = await freePorts(1);
    const config = telegramInstanceSchema.parse({ api_root: `http://127.0.0.1:${port}`, poll_timeout_seconds: 1 });
    const adapter = new TelegramAdapter('default', config, log.logger, { TELEGRAM_BOT_TOKEN: fake.token });
    adapters.push(adapter);
    await adapter.start(async () => undefined);
    expect(adapter.status().state).toBe('reconnecting');
    expect(adapter.status().lastError).toMatch(/ECONNREFUSED|fetch failed|getMe/);
    const everything = [adapter.status().lastError, ...log.lines].join('\n');
    expect(everything).not.toContain(fake.token);
    expect(everything).not.toContain(fake.token.split(':')[1]);
  });

  it('refuses to start without a token, naming the variable', () => {
    const config = telegramInstanceSchema.parse({});
    expect(() => new TelegramAdapter('ops', config, pino({ level: 'silent' }), {})).toThrow(/TELEGRAM_BOT_TOKEN_OPS/);
  });
});

describe('Markdown to Telegram HTML', () => {
  it('escapes HTML and renders emphasis, code and links', () => {
    expect(markdownToTelegramHtml('a < b && **bold** _it_ `x<y` [site](https://e.com/?a=1&b=2)')).toBe(
      'a &lt; b &amp;&amp; <b>bold</b> <i>it</i> <code>x&lt;y</code> <a href="https://e.com/?a=1&amp;b=2">site</a>',
    );
    expect(markdownToTelegramHtml('```py\nif a < b:\n    **not bold**\n```')).toBe('<pre><code class="language-py">if a &lt; b:\n    **not bold**</code></pre>');
    expect(markdownToTelegramHtml('snake_case_name stays')).toBe('snake_case_name stays');
  });
});
