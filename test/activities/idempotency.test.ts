import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities/index.js';
import type { DeliverReplyInput } from '../../activities/contract.js';
import { OutboundAdapters, type OutboundAdapter, type OutboundMessage } from '../../adapters/outbound.js';
import { loadConfig } from '../../lib/config/load.js';
import { ProviderRegistry } from '../../lib/llm/registry.js';
import { createLogger } from '../../lib/logger.js';
import { openDatabase, type DatabaseRuntime } from '../../lib/runtime/database-runtime.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/** A platform that fails its first post, as a flaky network would, and counts every post. */
class FlakyPlatform implements OutboundAdapter {
  readonly platform = 'flaky';
  readonly posts: OutboundMessage[] = [];
  failuresLeft = 1;

  async send(message: OutboundMessage): Promise<{ platformMessageId: string }> {
    this.posts.push(message);
    if (this.failuresLeft-- > 0) throw new Error('connection reset by platform');
    return { platformMessageId: `p-${this.posts.length}` };
  }
}

const channelId = 'channel:main:flaky:c1';
let database: DatabaseRuntime;
let server: TestDatabase | undefined;
let platform: FlakyPlatform;
let activities: ReturnType<typeof createActivities>;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-activities-'));
  server = await createTestDatabase();
  const config = loadConfig({ cwd: dir, env: { SPACEBOT_DATA_DIR: path.join(dir, 'data'), DATABASE_URL: server.url } });
  const logger = createLogger('test', 'silent');
  database = await openDatabase(config, logger);
  platform = new FlakyPlatform();
  activities = createActivities({ config, db: database.db, providers: new ProviderRegistry(config.providers), outbound: new OutboundAdapters([platform]), logger });
  await new MockActivityEnvironment().run(activities.recordInbound, {
    channelId,
    agentId: 'main',
    platform: 'flaky',
    conversationId: 'c1',
    turnSeq: 1,
    messages: [{ messageId: 'in-1', text: 'hello', receivedAt: new Date().toISOString() }],
  });
});
afterAll(async () => {
  await database?.close();
  await server?.drop();
});

test('recording the same inbound message again adds no row', async () => {
  const input = { channelId, agentId: 'main', platform: 'flaky', conversationId: 'c1', turnSeq: 1, messages: [{ messageId: 'in-1', text: 'hello', receivedAt: new Date().toISOString() }] };
  await new MockActivityEnvironment().run(activities.recordInbound, input);
  const rows = await database.db.selectFrom('messages').select('id').where('channel_id', '=', channelId).where('direction', '=', 'inbound').execute();
  expect(rows).toHaveLength(1);
});

test('a retried delivery posts once after a failure, and never again once delivered', async () => {
  const input: DeliverReplyInput = {
    channelId,
    agentId: 'main',
    platform: 'flaky',
    conversationId: 'c1',
    turnSeq: 1,
    step: 1,
    key: 'text',
    text: 'hi back',
    kind: 'reply',
    replyTo: 'in-1',
  };
  await expect(new MockActivityEnvironment({ attempt: 1 }).run(activities.deliverReply, input)).rejects.toThrow('connection reset by platform');
  const delivered = await new MockActivityEnvironment({ attempt: 2 }).run(activities.deliverReply, input);
  // A third run, as after a worker that crashed between posting and reporting completion.
  const again = await new MockActivityEnvironment({ attempt: 3 }).run(activities.deliverReply, input);
  expect(again).toEqual(delivered);
  expect(platform.posts).toHaveLength(2);
  expect(new Set(platform.posts.map((p) => p.deliveryKey)).size).toBe(1);
  const outbound = await database.db.selectFrom('messages').select(['text', 'reply_to']).where('channel_id', '=', channelId).where('direction', '=', 'outbound').execute();
  expect(outbound).toEqual([{ text: 'hi back', reply_to: 'in-1' }]);
  const delivery = await database.db.selectFrom('deliveries').selectAll().where('channel_id', '=', channelId).executeTakeFirstOrThrow();
  expect(delivery).toMatchObject({ status: 'delivered', attempts: 2, platform_message_id: 'p-2', last_error: null });
});
