import { setTimeout as sleep } from 'node:timers/promises';
import { channelWorkflowId } from '../../workflows/channel-contract.js';
import { ChannelTypes, snowflake, startFakeDiscord, type FakeChannel, type FakeDiscord, type FakeUser } from '../fake-platforms/discord/server.js';
import { adapterToml, bindingsToml } from '../helpers/gateway.js';
import { createHarness, eventually, workflowExists, type Harness } from '../helpers/harness.js';
import { freePorts } from '../helpers/ports.js';
import { words } from '../helpers/words.js';

/**
 * Discord end to end: the fake Discord's gateway → discord.js → the adapter in the real gateway →
 * bindings → the channel workflow on the real dev server and worker (fake LLM) → the delivery
 * activity → discord.js REST → the fake's channel.
 */

const guildId = snowflake();
const general: FakeChannel = { id: snowflake(), name: 'general', type: ChannelTypes.GuildText, guildId };
const support: FakeChannel = { id: snowflake(), name: 'support', type: ChannelTypes.GuildText, guildId };
const thread: FakeChannel = { id: snowflake(), name: 'a thread', type: ChannelTypes.PublicThread, guildId, parentId: general.id };
// Channels of their own for the scenarios below, so no turn of an earlier test is still running in them.
const streamed: FakeChannel = { id: snowflake(), name: 'streamed', type: ChannelTypes.GuildText, guildId };
const quiet: FakeChannel = { id: snowflake(), name: 'quiet', type: ChannelTypes.GuildText, guildId };
const random: FakeChannel = { id: snowflake(), name: 'random', type: ChannelTypes.GuildText, guildId };
const lobby: FakeChannel = { id: snowflake(), name: 'lobby', type: ChannelTypes.GuildText, guildId };
const backstage: FakeChannel = { id: snowflake(), name: 'backstage', type: ChannelTypes.GuildText, guildId };
const lobbyThread: FakeChannel = { id: snowflake(), name: 'a lobby thread', type: ChannelTypes.PublicThread, guildId, parentId: lobby.id };
const atrium: FakeChannel = { id: snowflake(), name: 'atrium', type: ChannelTypes.GuildText, guildId };
const hall: FakeChannel = { id: snowflake(), name: 'hall', type: ChannelTypes.GuildText, guildId };
const alice: FakeUser = { id: snowflake(), username: 'alice' };
const otherBot: FakeUser = { id: snowflake(), username: 'otherbot', bot: true };

describe('Discord end to end through the gateway and the worker', () => {
  let h: Harness;
  let fake: FakeDiscord;

  beforeAll(async () => {
    const [port] = await freePorts(1);
    fake = await startFakeDiscord({
      port,
      guilds: [{ id: guildId, name: 'Guild', channels: [general, support, thread, streamed, quiet, random, lobby, backstage, lobbyThread, atrium, hall] }],
    });
    // `main` streams (explicitly; it is the default too), `quiet` does not: the contrast shows the edits come from streaming.
    const toml =
      '\n[[agents]]\nid = "main"\nstreaming = true\n\n[[agents]]\nid = "support"\n\n[[agents]]\nid = "quiet"\nstreaming = false\n' +
      bindingsToml([
        { agent: 'support', platform: 'discord', channel: support.id },
        { agent: 'quiet', platform: 'discord', channel: quiet.id },
      ]) +
      adapterToml('discord', 'default', { api_url: fake.apiUrl, require_mention: true });
    // The token comes from the environment, as it would in production.
    h = await createHarness({ toml, gateway: { env: { DISCORD_BOT_TOKEN: fake.token } } });
    await eventually(async () => (h.gateway?.statuses().some((s) => s.kind === 'discord' && s.state === 'connected') ? true : undefined), 30_000, 'discord connected');
  });

  afterAll(async () => {
    await h?.close();
    await fake?.close();
  });

  beforeEach(() => h.fake.reset());

  const ask = (channel: FakeChannel, text: string) => fake.userMessage({ channel, author: alice, content: `<@${fake.bot.id}> ${text}`, mentions: [fake.bot] });
  /** The delivery row of the reply posted as `platformMessageId`, once it is marked delivered. */
  const delivered = (platformMessageId: string) =>
    eventually(
      async () => {
        const row = await h.database.db.selectFrom('deliveries').selectAll().where('platform_message_id', '=', platformMessageId).executeTakeFirst();
        return row?.status === 'delivered' ? row : undefined;
      },
      30_000,
      `the delivery of ${platformMessageId}`,
    );
  const replyTo = (messageId: string) =>
    eventually(async () => {
      const parts = fake.posted.filter((m) => m.replyTo === messageId);
      return parts.length > 0 ? parts[0] : undefined;
    }, 30_000, `a reply to ${messageId}`);

  test('a guild message is answered in its channel, referencing it, by the default agent', async () => {
    h.fake.script((req) => ({ text: `echo: ${req.lastUserText}` }));
    const id = ask(general, 'hello bot');
    const reply = await replyTo(id);
    expect(reply.channelId).toBe(general.id);
    expect(reply.content).toContain('hello bot');
    const description = await h.env.client.workflow.getHandle(channelWorkflowId({ agentId: 'main', platform: 'discord', conversationId: general.id })).describe();
    expect(description.status.name).toBe('RUNNING');
    const delivery = await h.database.db.selectFrom('deliveries').selectAll().where('platform_message_id', '=', reply.id).executeTakeFirst();
    expect(delivery).toMatchObject({ platform: 'discord', status: 'delivered' });
  });

  test('the react tool puts an emoji on the message, and typing shows while the model thinks', async () => {
    h.fake.script((req) => {
      const last = req.messages[req.messages.length - 1];
      if (last?.role === 'tool') return { toolCalls: [{ name: 'skip', input: {} }] };
      return { toolCalls: [{ name: 'react', input: { emoji: '👍' } }, { name: 'reply', input: { text: 'on it' } }], delayMs: 300 };
    });
    const typingBefore = fake.typing.filter((c) => c === general.id).length;
    const id = ask(general, 'please acknowledge');
    await replyTo(id);
    await eventually(async () => (fake.reactions.some((r) => r.messageId === id && r.emoji === '👍') ? true : undefined), 20_000, 'the reaction');
    expect(fake.reactions.find((r) => r.messageId === id)?.channelId).toBe(general.id);
    expect(fake.typing.filter((c) => c === general.id).length).toBeGreaterThan(typingBefore);
  });

  test('a thread message is answered in the thread', async () => {
    h.fake.script(() => ({ text: 'answer in the thread' }));
    const id = ask(thread, 'threaded question');
    const reply = await replyTo(id);
    expect(reply.channelId).toBe(thread.id);
    expect(fake.postedIn(general.id).some((m) => m.replyTo === id)).toBe(false);
  });

  test('a binding routes another channel to another agent', async () => {
    h.fake.script(() => ({ text: 'support here' }));
    const id = ask(support, 'I need help');
    const reply = await replyTo(id);
    expect(reply.channelId).toBe(support.id);
    await h.env.client.workflow.getHandle(channelWorkflowId({ agentId: 'support', platform: 'discord', conversationId: support.id })).describe();
    await expect(h.env.client.workflow.getHandle(channelWorkflowId({ agentId: 'main', platform: 'discord', conversationId: support.id })).describe()).rejects.toThrow();
  });

  test('a long reply arrives split at 2,000 characters, in order', async () => {
    const long = Array.from({ length: 90 }, (_, i) => `Line ${i}: a fairly long line of the answer that keeps going.`).join('\n');
    h.fake.script(() => ({ text: long }));
    const before = fake.postedIn(general.id).length;
    const id = ask(general, 'tell me everything');
    await replyTo(id);
    // Streamed (the default): the draft is edited into the first part, the rest is posted after it.
    const parts = await eventually(async () => {
      const after = fake.postedIn(general.id).slice(before);
      return after.map((m) => m.content).join('\n').includes('Line 89:') ? after : undefined;
    }, 30_000, 'all parts');
    expect(parts.length).toBeGreaterThanOrEqual(3);
    expect(parts.every((p) => p.content.length <= 2000)).toBe(true);
    expect(parts.map((p) => p.content).join('\n').replace(/\s+/g, ' ')).toBe(long.replace(/\s+/g, ' '));
  });

  test('a 429 on send is delivered once, after the retry-after', async () => {
    h.fake.script(() => ({ text: 'worth the wait' }));
    fake.failNext({ method: 'POST', path: new RegExp(`^/channels/${general.id}/messages$`), status: 429, retryAfterSeconds: 1 });
    const id = ask(general, 'rate limit me');
    const reply = await replyTo(id);
    const delivery = await eventually(
      async () => {
        const row = await h.database.db.selectFrom('deliveries').selectAll().where('platform_message_id', '=', reply.id).executeTakeFirst();
        return row?.status === 'delivered' ? row : undefined;
      },
      30_000,
      'the delivery row',
    );
    expect(delivery.attempts).toBeGreaterThanOrEqual(2);
    expect(fake.posted.filter((m) => m.replyTo === id)).toHaveLength(1);
    const rateLimited = fake.requests.filter((r) => r.method === 'POST' && r.path === `/channels/${general.id}/messages`);
    expect(rateLimited.length).toBeGreaterThanOrEqual(2);
  });

  test('a streamed reply is posted once as a draft, edited in place, and finalised by edit', async () => {
    const answer = words(60, 'stream');
    // Slow enough (about 5 s) for the draft (after 1 s) and several edits (one a second) to happen while it streams.
    h.fake.script((req) => (req.lastUserText.includes('stream this') ? { text: answer, chunkDelayMs: 80 } : { text: 'ok' }));
    const requestsBefore = fake.requests.length;
    const id = ask(streamed, 'stream this please');
    // The draft answers the user's message (message_reference), as a posted reply would.
    const draft = await replyTo(id);
    expect(draft.channelId).toBe(streamed.id);
    // The delivery row points at the draft: the reply was delivered by editing it.
    const delivery = await delivered(draft.id);
    expect(delivery).toMatchObject({ platform: 'discord', status: 'delivered' });

    // One message in the channel, and it holds the whole answer.
    expect(fake.postedIn(streamed.id)).toHaveLength(1);
    expect(draft.content).toBe(answer);
    const requests = fake.requests.slice(requestsBefore);
    const posts = requests.filter((r) => r.method === 'POST' && r.path === `/channels/${streamed.id}/messages`);
    expect(posts).toHaveLength(1);
    // It was posted while the answer was still streaming: a beginning of it, not the whole.
    const first = (posts[0]!.body as { content: string }).content;
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(answer.length);
    expect(answer.startsWith(first)).toBe(true);
    // Then edited (PATCH) in place: only that message, growing, the last edit the complete text.
    const patches = requests.filter((r) => r.method === 'PATCH' && r.path.startsWith(`/channels/${streamed.id}/messages/`));
    expect(patches.length).toBeGreaterThanOrEqual(2);
    expect(patches.every((r) => r.path === `/channels/${streamed.id}/messages/${draft.id}`)).toBe(true);
    expect(draft.edits.length).toBe(patches.length);
    expect(draft.edits.every((text) => answer.startsWith(text))).toBe(true);
    expect(draft.edits.some((text) => text.length > first.length && text.length < answer.length)).toBe(true);
    expect(draft.edits.at(-1)).toBe(answer);
    const lengths = draft.edits.map((text) => text.length);
    expect(lengths).toEqual([...lengths].sort((a, b) => a - b));
    // The model was asked to stream.
    const calls = h.fake.requests.filter((r) => r.neutral?.lastUserText.includes('stream this'));
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((r) => r.neutral?.stream === true)).toBe(true);

    // Nothing more turns up later (a second copy of the reply would be posted after the draft's delivery).
    await sleep(1500);
    expect(fake.postedIn(streamed.id)).toHaveLength(1);
    expect(fake.posted.filter((m) => m.replyTo === id)).toHaveLength(1);
  });

  test('an agent with streaming = false posts its reply once, unedited', async () => {
    const answer = words(60, 'calm');
    h.fake.script((req) => (req.lastUserText.includes('no streaming') ? { text: answer, chunkDelayMs: 80 } : { text: 'ok' }));
    const requestsBefore = fake.requests.length;
    const id = ask(quiet, 'no streaming please');
    const reply = await replyTo(id);
    await delivered(reply.id);
    expect(reply).toMatchObject({ channelId: quiet.id, content: answer, edits: [] });
    expect(fake.requests.slice(requestsBefore).filter((r) => r.method === 'PATCH')).toEqual([]);
    const calls = h.fake.requests.filter((r) => r.neutral?.lastUserText.includes('no streaming'));
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((r) => r.neutral?.stream === false)).toBe(true);
    expect(fake.postedIn(quiet.id)).toHaveLength(1);
  });

  test('filtered messages are ignored end to end: no workflow, no model call, nothing posted', async () => {
    h.fake.script((req) => ({ text: `echo: ${req.lastUserText}` }));
    const channelId = channelWorkflowId({ agentId: 'main', platform: 'discord', conversationId: random.id });
    // require_mention is on: a plain message in a guild channel is not for the bot.
    const unmentioned = fake.userMessage({ channel: random, author: alice, content: 'just chatting, no mention' });
    // allow_bots is off: another bot mentioning ours is not answered.
    const fromBot = fake.userMessage({ channel: random, author: otherBot, content: `<@${fake.bot.id}> beep boop`, mentions: [fake.bot] });
    // A mention sent after them in another channel: once it is answered, the gateway has long handled the two.
    const marker = ask(hall, 'marker after the filtered ones');
    await replyTo(marker);
    await sleep(1000);

    expect(await workflowExists(h, channelId)).toBe(false);
    expect(fake.postedIn(random.id)).toEqual([]);
    expect(fake.posted.some((m) => m.replyTo === unmentioned || m.replyTo === fromBot)).toBe(false);
    expect(fake.typing).not.toContain(random.id);
    expect(fake.reactions.some((r) => r.channelId === random.id)).toBe(false);
    const texts = h.fake.requests.map((r) => JSON.stringify(r.neutral?.messages ?? []));
    expect(texts.some((t) => t.includes('just chatting') || t.includes('beep boop'))).toBe(false);
    const stored = await h.database.db.selectFrom('messages').select('platform_message_id').where('platform_message_id', 'in', [unmentioned, fromBot]).execute();
    expect(stored).toEqual([]);
    // The same text with a mention is answered: the filter, not the channel, kept them out.
    const mentioned = ask(random, 'just chatting, now with a mention');
    const reply = await replyTo(mentioned);
    expect(reply.channelId).toBe(random.id);
    expect(await workflowExists(h, channelId)).toBe(true);
  });

  test('after the gateway socket drops, messages sent during and after it are each answered exactly once', async () => {
    h.fake.script((req) => ({ text: `echo: ${req.lastUserText}` }));
    const { identifies, resumes } = fake.gateway.stats;
    const before = ask(lobby, 'before the drop');
    await replyTo(before);

    fake.gateway.dropConnection();
    expect(fake.gateway.connected).toBe(false);
    // Dispatched while the socket is down: Discord keeps them for the session and replays them on RESUME.
    const during = [ask(backstage, 'during the drop one'), ask(lobbyThread, 'during the drop two')];
    await eventually(
      async () => (fake.gateway.stats.resumes > resumes && fake.gateway.connected && h.gateway?.statuses().find((s) => s.kind === 'discord')?.state === 'connected' ? true : undefined),
      30_000,
      'the session resumed',
    );
    // Resumed, not identified afresh (a new session would not replay what was missed).
    expect(fake.gateway.stats.identifies).toBe(identifies);
    const after = [ask(atrium, 'after the resume')];

    const all = [before, ...during, ...after];
    const texts = ['before the drop', 'during the drop one', 'during the drop two', 'after the resume'];
    const replies = [];
    for (const id of all) replies.push(await replyTo(id));
    for (const reply of replies) await delivered(reply.id);
    // Give a doubled event time to be answered a second time before counting.
    await sleep(2000);

    const channels = [lobby, backstage, lobbyThread, atrium];
    all.forEach((id, i) => {
      const answers = fake.posted.filter((m) => m.replyTo === id);
      expect(answers).toHaveLength(1);
      expect(answers[0]!.channelId).toBe(channels[i]!.id);
      expect(answers[0]!.content).toContain(texts[i]);
    });
    for (const channel of channels) expect(fake.postedIn(channel.id)).toHaveLength(1);
    // Each message reached its channel workflow, and the model, once.
    const inbound = await h.database.db.selectFrom('messages').select('platform_message_id').where('platform_message_id', 'in', all).execute();
    expect(inbound.map((r) => r.platform_message_id).sort()).toEqual([...all].sort());
    for (const text of texts) expect(h.fake.requests.filter((r) => r.neutral?.lastUserText.includes(text))).toHaveLength(1);
  });
});
