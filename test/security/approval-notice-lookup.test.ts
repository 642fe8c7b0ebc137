import { approvalIdFor, findByNotice, insertApproval, setNoticeMessage } from '../../lib/policy/approval-store.js';
import { backends, createAgent, openTestDb, type TestDb } from '../memory/db.js';

/**
 * A reaction to an approval notice finds its approval as soon as the delivery outbox has recorded the
 * notice's posted part, before the delivery settles and the approval row is given the notice's id
 * (lib/policy/approval-activities.ts): a reaction in that window was ignored.
 */
describe.each(backends)('approval notice lookup on $name', (backend) => {
  let t: TestDb;
  let agent: string;
  beforeAll(async () => {
    t = await openTestDb(backend);
  });
  afterAll(async () => {
    await t?.close();
  });
  // A fresh agent per test (the database is this file's own and is thrown away with it).
  beforeEach(async () => {
    agent = await createAgent(t.db, 'notice');
  });

  /** An approval whose notice the outbox is posting (parts posted so far: `parts`), not yet on the approval row. */
  async function noticeBeingPosted(conversation: string, parts: string[]) {
    const channelId = `channel:${agent}:telegram:${conversation}`;
    const id = approvalIdFor(`${channelId}:worker/1:call-1`);
    await t.db.insertInto('channels').values({ id: channelId, agent_id: agent, platform: 'telegram', conversation_id: conversation }).execute();
    await insertApproval(t.db, {
      id,
      agent_id: agent,
      worker_id: `${channelId}/worker/1`,
      channel_id: channelId,
      platform: 'telegram',
      conversation_id: conversation,
      tool: 'file_write',
      summary: 'file_write x.txt',
      input: '{}',
      expires_at: new Date(Date.now() + 60_000),
    });
    const key = `${channelId}:0:0:approval:${id}`;
    const message = await t.db
      .insertInto('messages')
      .values({ channel_id: channelId, direction: 'outbound', platform_message_id: `out:${key}`, text: 'notice', turn_seq: 0 })
      .returning('id')
      .executeTakeFirstOrThrow();
    await t.db
      .insertInto('deliveries')
      .values({ key, channel_id: channelId, message_id: message.id, platform: 'telegram', status: 'pending', posted_parts: JSON.stringify(parts) })
      .execute();
    return id;
  }

  it('finds the approval by the notice part the outbox recorded, before the notice id is saved', async () => {
    const id = await noticeBeingPosted('-100', ['501']);
    expect((await findByNotice(t.db, 'telegram', '-100', '501'))?.id).toBe(id);
    // Another message of the chat, or the same message id in another chat, is no approval's notice.
    expect(await findByNotice(t.db, 'telegram', '-100', '502')).toBeUndefined();
    expect(await findByNotice(t.db, 'telegram', '-200', '501')).toBeUndefined();
  });

  it('a notice not posted yet is found by nothing; once its id is saved, by that id', async () => {
    const id = await noticeBeingPosted('-300', []);
    expect(await findByNotice(t.db, 'telegram', '-300', '601')).toBeUndefined();
    await setNoticeMessage(t.db, id, '601');
    expect((await findByNotice(t.db, 'telegram', '-300', '601'))?.id).toBe(id);
  });
});
