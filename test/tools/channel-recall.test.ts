import type { Kysely } from 'kysely';
import type { Database } from '../../lib/db/schema.js';
import { makeChannelRecallTool } from '../../lib/tools/channel-recall.js';
import { backends, createAgent, openTestDb, removeAgent, type TestDb } from '../memory/db.js';
import { callTool, context } from './helpers.js';

describe.each(backends)('channel_recall on $name', (backend) => {
  let t: TestDb;
  let agentId: string;
  let channelId: string;
  let otherChannelId: string;

  beforeAll(async () => {
    t = await openTestDb(backend);
    agentId = await createAgent(t.db, 'recall');
    channelId = `channel:${agentId}:test:c1`;
    otherChannelId = `channel:${agentId}:test:c2`;
    await t.db
      .insertInto('channels')
      .values([
        { id: channelId, agent_id: agentId, platform: 'test', conversation_id: 'c1' },
        { id: otherChannelId, agent_id: agentId, platform: 'test', conversation_id: 'c2' },
      ])
      .execute();
    let n = 0;
    const msg = (channel: string, direction: 'inbound' | 'outbound', turn: number, text: string, sender?: { id: string; name?: string }) => ({
      channel_id: channel,
      direction,
      platform_message_id: `m${n++}`,
      sender_id: sender?.id ?? null,
      sender_name: sender?.name ?? null,
      text,
      turn_seq: turn,
    });
    await t.db
      .insertInto('messages')
      .values([
        msg(channelId, 'inbound', 1, 'Hi, I am planning a trip to Lisbon', { id: 'u1', name: 'Ana' }),
        msg(channelId, 'outbound', 1, 'Lisbon is lovely in May.'),
        msg(channelId, 'inbound', 2, 'What about PORTO?', { id: 'u2' }),
        msg(channelId, 'outbound', 2, 'Porto has great food.\nTry the francesinha.'),
        msg(channelId, 'inbound', 3, 'Book 100% refundable hotels_only', { id: 'u1', name: 'Ana' }),
        msg(otherChannelId, 'inbound', 1, 'Lisbon secrets from another conversation', { id: 'u9', name: 'Eve' }),
      ])
      .execute();
  });

  afterAll(async () => {
    await cleanUp(t.db, [channelId, otherChannelId]);
    await removeAgent(t.db, agentId);
    await t.close();
  });

  const tool = () => makeChannelRecallTool(t.db);
  const ctx = () => context('/nonexistent', { agentId, channelId });

  it('returns the transcript oldest first as "[turn N] name: text"', async () => {
    expect((await callTool(tool(), {}, ctx())).split('\n')).toEqual([
      '[turn 1] Ana: Hi, I am planning a trip to Lisbon',
      '[turn 1] you: Lisbon is lovely in May.',
      '[turn 2] u2: What about PORTO?',
      '[turn 2] you: Porto has great food.',
      '  Try the francesinha.',
      '[turn 3] Ana: Book 100% refundable hotels_only',
    ]);
  });

  it('matches the query case-insensitively and literally (no LIKE wildcards), only in this channel', async () => {
    expect(await callTool(tool(), { query: 'porto' }, ctx())).toBe('[turn 2] u2: What about PORTO?\n[turn 2] you: Porto has great food.\n  Try the francesinha.');
    expect(await callTool(tool(), { query: 'lisbon' }, ctx())).not.toContain('another conversation');
    expect(await callTool(tool(), { query: '100%' }, ctx())).toBe('[turn 3] Ana: Book 100% refundable hotels_only');
    expect(await callTool(tool(), { query: 'o%r' }, ctx())).toBe('No messages found containing "o%r" in this conversation.');
  });

  it('reads before a turn and keeps the most recent `limit` messages', async () => {
    expect(await callTool(tool(), { before_turn: 2 }, ctx())).toBe('[turn 1] Ana: Hi, I am planning a trip to Lisbon\n[turn 1] you: Lisbon is lovely in May.');
    expect(await callTool(tool(), { limit: 1 }, ctx())).toBe('[turn 3] Ana: Book 100% refundable hotels_only');
    expect(await callTool(tool(), { before_turn: 1 }, ctx())).toBe('No messages found before turn 1 in this conversation.');
  });

  it('refuses a limit over 100', async () => {
    await expect(callTool(tool(), { limit: 101 }, ctx())).rejects.toThrow();
  });
});

async function cleanUp(db: Kysely<Database>, channelIds: string[]): Promise<void> {
  await db.deleteFrom('messages').where('channel_id', 'in', channelIds).execute();
  await db.deleteFrom('channels').where('id', 'in', channelIds).execute();
}
