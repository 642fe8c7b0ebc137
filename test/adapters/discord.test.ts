import { Writable } from 'node:stream';
import { pino } from 'pino';
import { DiscordAdapter } from '../../adapters/discord/adapter.js';
import { discordInstanceSchema, type DiscordInstanceInput } from '../../adapters/discord/config.js';
import { DiscordOutbound, nonceFor } from '../../adapters/discord/outbound.js';
import type { InboundEvent } from '../../adapters/inbound.js';
import { PlatformError } from '../../adapters/platform-error.js';
import { ChannelTypes, snowflake, startFakeDiscord, type FakeChannel, type FakeDiscord, type FakeUser } from '../fake-platforms/discord/server.js';
import { eventually } from '../helpers/harness.js';
import { freePorts } from '../helpers/ports.js';

/**
 * The Discord adapter against a local Discord speaking the real REST and gateway protocols, with
 * discord.js pointed at it: inbound events, filters, replies, splitting, typing, reactions, edits,
 * rate limits, a bad token and a dropped gateway connection.
 */

const guildId = snowflake();
const general: FakeChannel = { id: snowflake(), name: 'general', type: ChannelTypes.GuildText, guildId };
const other: FakeChannel = { id: snowflake(), name: 'other', type: ChannelTypes.GuildText, guildId };
const thread: FakeChannel = { id: snowflake(), name: 'a thread', type: ChannelTypes.PublicThread, guildId, parentId: general.id };
const alice: FakeUser = { id: snowflake(), username: 'alice' };
const mallory: FakeUser = { id: snowflake(), username: 'mallory' };
const otherBot: FakeUser = { id: snowflake(), username: 'otherbot', bot: true };
const aliceDm: FakeChannel = { id: snowflake(), name: 'dm-alice', type: ChannelTypes.DM };
const malloryDm: FakeChannel = { id: snowflake(), name: 'dm-mallory', type: ChannelTypes.DM };

interface LogLine {
  level: number;
  msg: string;
  reason?: string;
  [key: string]: unknown;
}

function captureLogger(level = 'debug') {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as LogLine);
      }
      done();
    },
  });
  return { logger: pino({ level }, stream), lines, raw };
}

function config(fake: FakeDiscord, overrides: Partial<DiscordInstanceInput> = {}) {
  return discordInstanceSchema.parse({
    token: fake.token,
    api_url: fake.apiUrl,
    allowed_guilds: [guildId],
    allowed_channels: [general.id],
    dm_allowlist: [alice.id],
    require_mention: true,
    ...overrides,
  });
}

describe('Discord adapter against a fake Discord', () => {
  let fake: FakeDiscord;
  let adapter: DiscordAdapter;
  let logs: ReturnType<typeof captureLogger>;
  const events: InboundEvent[] = [];

  beforeAll(async () => {
    const [port] = await freePorts(1);
    fake = await startFakeDiscord({ port, guilds: [{ id: guildId, name: 'Test guild', channels: [general, other, thread] }], dmChannels: [aliceDm, malloryDm], heartbeatIntervalMs: 250 });
    logs = captureLogger();
    adapter = new DiscordAdapter('default', config(fake), logs.logger, {});
    await adapter.start(async (event) => {
      events.push(event);
    });
  });

  afterAll(async () => {
    await adapter?.stop();
    await fake?.close();
  });

  const mention = (text: string) => `<@${fake.bot.id}> ${text}`;
  const eventFor = (messageId: string) => eventually(async () => events.find((e) => e.messageId === messageId), 10_000, `event ${messageId}`);

  test('connects through the gateway with the intents it needs and reports connected', async () => {
    expect(adapter.status()).toMatchObject({ kind: 'discord', instance: 'default', state: 'connected', botUser: 'spacebot' });
    expect(adapter.status().lastError).toBeUndefined();
    expect(fake.gateway.stats.identifies).toBe(1);
    // JSON, API v10, no zlib-stream compression.
    expect(fake.gateway.stats.queries[0]).toBe('v=10&encoding=json');
    const gatewayCall = fake.requests.find((r) => r.path === '/gateway/bot');
    expect(gatewayCall?.authorization).toBe(`Bot ${fake.token}`);
    await eventually(async () => (fake.gateway.stats.heartbeats > 0 ? true : undefined), 5000, 'a heartbeat');
  });

  test('a mention in an allowed guild channel becomes an inbound event', async () => {
    const id = fake.userMessage({ channel: general, author: alice, content: mention('hello <@' + alice.id + '>!'), mentions: [fake.bot, alice] });
    const event = await eventFor(id);
    expect(event).toMatchObject({
      kind: 'discord',
      instance: 'default',
      platform: 'discord',
      conversationId: general.id,
      messageId: id,
      text: 'hello @alice!',
      sender: { id: alice.id, name: 'alice', isBot: false },
      mentioned: true,
      coordinates: { guildId, channelId: general.id, isDirect: false },
    });
    expect(event.coordinates.threadId).toBeUndefined();
  });

  test('a thread is its own conversation and carries its parent channel', async () => {
    const id = fake.userMessage({ channel: thread, author: alice, content: mention('in a thread'), mentions: [fake.bot] });
    const event = await eventFor(id);
    expect(event.conversationId).toBe(thread.id);
    expect(event.coordinates).toEqual({ guildId, channelId: thread.id, threadId: thread.id, parentChannelId: general.id, isDirect: false });
  });

  test('a reply to one of the bot\'s messages counts as a mention', async () => {
    const sent = await adapter.outbound.send({ deliveryKey: 'k-reply-target', conversationId: general.id, text: 'I am the bot' });
    const id = fake.userMessage({ channel: general, author: alice, content: 'answering you', replyTo: { id: sent.platformMessageId, author: fake.bot, content: 'I am the bot' } });
    const event = await eventFor(id);
    expect(event).toMatchObject({ text: 'answering you', mentioned: true });
  });

  test('a DM from an allowlisted user needs no mention', async () => {
    const id = fake.userMessage({ channel: aliceDm, author: alice, content: 'private hello' });
    const event = await eventFor(id);
    expect(event).toMatchObject({ conversationId: aliceDm.id, text: 'private hello', mentioned: false, coordinates: { channelId: aliceDm.id, isDirect: true } });
    expect(event.coordinates.guildId).toBeUndefined();
  });

  test('filtered messages are ignored, each for its reason, and the bot\'s own echoes never pass', async () => {
    const before = events.length;
    const ignored = [
      fake.userMessage({ channel: other, author: alice, content: mention('wrong channel'), mentions: [fake.bot] }),
      fake.userMessage({ channel: general, author: alice, content: 'no mention here' }),
      fake.userMessage({ channel: general, author: otherBot, content: mention('beep'), mentions: [fake.bot] }),
      fake.userMessage({ channel: malloryDm, author: mallory, content: 'let me in' }),
    ];
    const reasons = await eventually(
      async () => {
        const found = logs.lines.filter((l) => l.msg === 'discord message ignored' && ignored.includes(String(l.messageId)));
        return found.length === ignored.length ? found.map((l) => l.reason) : undefined;
      },
      10_000,
      'four ignored messages',
    );
    expect(reasons.sort()).toEqual(
      ['bot not mentioned (require_mention)', 'channel not in allowed_channels', 'direct message from a user not in dm_allowlist', 'message from a bot (allow_bots is off)'].sort(),
    );
    // A message sent after them passes, and none of the ignored ones reached the sink.
    const sentinel = fake.userMessage({ channel: general, author: alice, content: mention('still here'), mentions: [fake.bot] });
    await eventFor(sentinel);
    expect(events.slice(before).map((e) => e.messageId)).toEqual([sentinel]);
    expect(events.some((e) => e.sender.id === fake.bot.id)).toBe(false);
  });

  test('a reply references the triggering message, with a nonce Discord enforces', async () => {
    const trigger = fake.userMessage({ channel: general, author: alice, content: mention('question'), mentions: [fake.bot] });
    await eventFor(trigger);
    const sent = await adapter.outbound.send({ deliveryKey: 'chan:1:0:reply', conversationId: general.id, text: 'the answer', replyTo: trigger });
    const posted = fake.posted.find((m) => m.id === sent.platformMessageId)!;
    expect(posted).toMatchObject({ channelId: general.id, content: 'the answer', replyTo: trigger, nonce: nonceFor('chan:1:0:reply', 0), enforceNonce: true });
    expect(posted.nonce!.length).toBeLessThanOrEqual(25);
    expect(posted.allowedMentions).toEqual({ parse: ['users'], replied_user: true });
    expect(sent.partIds).toEqual([sent.platformMessageId]);

    // The same delivery again (a retried activity) posts nothing new and reports the same message.
    const count = fake.posted.length;
    const again = await adapter.outbound.send({ deliveryKey: 'chan:1:0:reply', conversationId: general.id, text: 'the answer', replyTo: trigger });
    expect(again.platformMessageId).toBe(sent.platformMessageId);
    expect(fake.posted.length).toBe(count);
  });

  test('a reply in a thread is posted in the thread', async () => {
    const sent = await adapter.outbound.send({ deliveryKey: 'thread:1:0:reply', conversationId: thread.id, text: 'threaded answer' });
    expect(fake.postedIn(thread.id).map((m) => m.id)).toContain(sent.platformMessageId);
    expect(fake.postedIn(general.id).map((m) => m.id)).not.toContain(sent.platformMessageId);
  });

  test('a long reply is split at 2,000 characters without breaking its code block', async () => {
    const prose = Array.from({ length: 30 }, (_, i) => `Sentence number ${i} explains one more detail of the answer.`).join(' ');
    const code = Array.from({ length: 80 }, (_, i) => `const value${i} = compute(${i}); // line ${i}`).join('\n');
    const text = `${prose}\n\n\`\`\`ts\n${code}\n\`\`\`\n\nThat is all.`;
    const trigger = fake.userMessage({ channel: general, author: alice, content: mention('long one'), mentions: [fake.bot] });
    const sent = await adapter.outbound.send({ deliveryKey: 'chan:2:0:reply', conversationId: general.id, text, replyTo: trigger });
    const parts = sent.partIds!.map((id) => fake.posted.find((m) => m.id === id)!);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    for (const part of parts) {
      expect(part.content.length).toBeLessThanOrEqual(2000);
      // Every part renders on its own: fences balanced.
      expect((part.content.match(/^```/gm) ?? []).length % 2).toBe(0);
    }
    expect(parts[0]!.replyTo).toBe(trigger);
    expect(parts.slice(1).every((p) => p.replyTo === undefined)).toBe(true);
    expect(new Set(parts.map((p) => p.nonce)).size).toBe(parts.length);
    const code0 = parts.map((p) => p.content).join('\n');
    for (let i = 0; i < 80; i++) expect(code0).toContain(`const value${i} = compute(${i}); // line ${i}`);
    expect(parts.at(-1)!.content).toContain('That is all.');
  });

  test('typing, reactions (unicode and custom) and edits reach Discord', async () => {
    await adapter.outbound.typing!(general.id);
    expect(fake.typing).toContain(general.id);

    const trigger = fake.userMessage({ channel: general, author: alice, content: mention('react to me'), mentions: [fake.bot] });
    await adapter.outbound.react!(general.id, trigger, '👍');
    await adapter.outbound.react!(general.id, trigger, '<:party:112233445566778899>');
    expect(fake.reactions.filter((r) => r.messageId === trigger)).toEqual([
      { channelId: general.id, messageId: trigger, emoji: '👍' },
      { channelId: general.id, messageId: trigger, emoji: 'party:112233445566778899' },
    ]);

    const sent = await adapter.outbound.send({ deliveryKey: 'chan:3:0:stream', conversationId: general.id, text: 'Thinking' });
    await adapter.outbound.edit!(general.id, sent.platformMessageId, 'Thinking about it');
    await adapter.outbound.edit!(general.id, sent.platformMessageId, 'word '.repeat(500));
    const posted = fake.posted.find((m) => m.id === sent.platformMessageId)!;
    expect(posted.edits[0]).toBe('Thinking about it');
    expect(posted.edits[1]!.length).toBeLessThanOrEqual(2000);
    expect(posted.edits[1]!.startsWith('word word')).toBe(true);
    expect(adapter.outbound.maxMessageChars).toBe(2000);
    expect(adapter.outbound.minEditIntervalMs).toBeGreaterThanOrEqual(1000);
  });

  test('a 429 is a PlatformError with the retry-after, and the send succeeds once after it', async () => {
    fake.failNext({ method: 'POST', path: /^\/channels\/\d+\/messages$/, status: 429, retryAfterSeconds: 1 });
    const before = fake.postedIn(other.id).length;
    const error = await adapter.outbound.send({ deliveryKey: 'other:1:0:reply', conversationId: other.id, text: 'rate limited' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlatformError);
    expect(error).toMatchObject({ status: 429, permanent: false });
    const retryAfterMs = (error as PlatformError).retryAfterMs!;
    expect(retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(retryAfterMs).toBeLessThan(5000);
    expect(fake.postedIn(other.id).length).toBe(before);

    // The delivery activity waits the retry-after (nextRetryDelay) and tries again: one post.
    await new Promise((resolve) => setTimeout(resolve, retryAfterMs));
    await adapter.outbound.send({ deliveryKey: 'other:1:0:reply', conversationId: other.id, text: 'rate limited' });
    expect(fake.postedIn(other.id).map((m) => m.content)).toEqual(['rate limited']);
  });

  test('a rejected token is a permanent PlatformError that never shows the token', async () => {
    const { logger, raw } = captureLogger();
    const wrongToken = 'wrong-token.abcdefghijklmnop';
    const outbound = new DiscordOutbound({ platform: 'discord', token: wrongToken, apiUrl: fake.apiUrl, logger });
    const error = await outbound.send({ deliveryKey: 'k-401', conversationId: general.id, text: 'hi' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlatformError);
    expect(error).toMatchObject({ status: 401, permanent: true });
    expect((error as Error).message).toContain('token is invalid');
    expect((error as Error).message).not.toContain(wrongToken);
    expect(raw.join('\n')).not.toContain(wrongToken);
    // A 403 (missing permission) is permanent too, a 500 is not.
    fake.failNext({ method: 'POST', path: /typing$/, status: 403 });
    await expect(adapter.outbound.typing!(general.id)).rejects.toMatchObject({ status: 403, permanent: true });
    fake.failNext({ method: 'POST', path: /typing$/, status: 502 });
    await expect(adapter.outbound.typing!(general.id)).rejects.toMatchObject({ status: 502, permanent: false });
  });

  test('an adapter with a bad token reports failed, clearly, without the token anywhere', async () => {
    const { logger, raw } = captureLogger('trace');
    const badToken = 'bad-token.zyxwvutsrqponmlk';
    const bad = new DiscordAdapter('second', config(fake, { token: badToken }), logger, {});
    expect(bad.platform).toBe('discord-second');
    await bad.start(async () => undefined);
    try {
      const status = bad.status();
      expect(status.state).toBe('failed');
      expect(status.lastError).toMatch(/token was rejected/);
      expect(JSON.stringify(status)).not.toContain(badToken);
      expect(raw.join('\n')).not.toContain(badToken);
      expect(raw.length).toBeGreaterThan(0);
    } finally {
      await bad.stop();
    }
  });

  test('the token is read from the environment when the file has none, and missing it is a clear error', () => {
    const fromEnv = new DiscordAdapter('ops', discordInstanceSchema.parse({ api_url: fake.apiUrl }), captureLogger().logger, { DISCORD_BOT_TOKEN_OPS: 'env-token.123' });
    expect(fromEnv.platform).toBe('discord-ops');
    expect(() => new DiscordAdapter('ops', discordInstanceSchema.parse({}), captureLogger().logger, {})).toThrow(/DISCORD_BOT_TOKEN_OPS/);
  });

  test('a dropped gateway connection resumes: messages sent meanwhile arrive once, none lost', async () => {
    const resumesBefore = fake.gateway.stats.resumes;
    const first = fake.userMessage({ channel: general, author: alice, content: mention('before the drop'), mentions: [fake.bot] });
    await eventFor(first);

    fake.gateway.dropConnection();
    const during = [
      fake.userMessage({ channel: general, author: alice, content: mention('during the drop 1'), mentions: [fake.bot] }),
      fake.userMessage({ channel: thread, author: alice, content: mention('during the drop 2'), mentions: [fake.bot] }),
    ];
    await eventually(async () => (adapter.status().state === 'reconnecting' ? true : undefined), 10_000, 'reconnecting state');
    await eventually(async () => (fake.gateway.stats.resumes > resumesBefore && adapter.status().state === 'connected' ? true : undefined), 15_000, 'resume');
    const after = fake.userMessage({ channel: general, author: alice, content: mention('after the resume'), mentions: [fake.bot] });
    for (const id of [...during, after]) await eventFor(id);

    expect(fake.gateway.stats.identifies).toBe(1);
    const ids = events.map((e) => e.messageId);
    for (const id of [first, ...during, after]) expect(ids.filter((x) => x === id)).toHaveLength(1);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
