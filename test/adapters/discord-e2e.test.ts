import { channelWorkflowId } from '../../workflows/channel-contract.js';
import { ChannelTypes, snowflake, startFakeDiscord, type FakeChannel, type FakeDiscord, type FakeUser } from '../fake-platforms/discord/server.js';
import { adapterToml, agentsToml, bindingsToml } from '../helpers/gateway.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { freePorts } from '../helpers/ports.js';

/**
 * Discord end to end: the fake Discord's gateway → discord.js → the adapter in the real gateway →
 * bindings → the channel workflow on the real dev server and worker (fake LLM) → the delivery
 * activity → discord.js REST → the fake's channel.
 */

const guildId = snowflake();
const general: FakeChannel = { id: snowflake(), name: 'general', type: ChannelTypes.GuildText, guildId };
const support: FakeChannel = { id: snowflake(), name: 'support', type: ChannelTypes.GuildText, guildId };
const thread: FakeChannel = { id: snowflake(), name: 'a thread', type: ChannelTypes.PublicThread, guildId, parentId: general.id };
const alice: FakeUser = { id: snowflake(), username: 'alice' };

describe('Discord end to end through the gateway and the worker', () => {
  let h: Harness;
  let fake: FakeDiscord;

  beforeAll(async () => {
    const [port] = await freePorts(1);
    fake = await startFakeDiscord({ port, guilds: [{ id: guildId, name: 'Guild', channels: [general, support, thread] }] });
    const toml =
      agentsToml(['main', 'support']) +
      bindingsToml([{ agent: 'support', platform: 'discord', channel: support.id }]) +
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
});
