import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities/index.js';
import type { DeliverReplyInput } from '../../activities/contract.js';
import type { ReplyRecord } from '../../workflows/channel-contract.js';
import { OutboundAdapters, type OutboundAdapter, type OutboundMessage } from '../../adapters/outbound.js';
import { loadConfig } from '../../lib/config/load.js';
import { ProviderRegistry } from '../../lib/llm/registry.js';
import { createLogger } from '../../lib/logger.js';
import { openDatabase, type DatabaseRuntime } from '../../lib/runtime/database-runtime.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/**
 * The last gate before a platform: whatever reaches the delivery activity with a secret in it (model
 * answers are redacted earlier, but error texts, heartbeat results and code yet to come pass here too)
 * is posted redacted, stored redacted, and logged by kind, never by value.
 */
class RecordingPlatform implements OutboundAdapter {
  readonly platform = 'recording';
  readonly posts: OutboundMessage[] = [];
  async send(message: OutboundMessage): Promise<{ platformMessageId: string }> {
    this.posts.push(message);
    return { platformMessageId: `p-${this.posts.length}` };
  }
}

const GITHUB_TOKEN = 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
const STRIPE_KEY = 'sk_live_' + '51HxYzAbCdEfGhIjKlMnOpQr';
let database: DatabaseRuntime;
let server: TestDatabase | undefined;
const platform = new RecordingPlatform();
const logLines: string[] = [];
let activities: ReturnType<typeof createActivities>;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-outbound-'));
  server = await createTestDatabase();
  const config = loadConfig({ cwd: dir, env: { SPACEBOT_DATA_DIR: path.join(dir, 'data'), DATABASE_URL: server.url } });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger('outbound-redaction', 'info', sink);
  database = await openDatabase(config, logger);
  activities = createActivities({ config, db: database.db, providers: new ProviderRegistry(config.providers), outbound: new OutboundAdapters([platform]), logger });
  // The conversation exists once a message came in.
  await new MockActivityEnvironment().run(activities.recordInbound, {
    channelId: 'channel:main:recording:c1',
    agentId: 'main',
    platform: 'recording',
    conversationId: 'c1',
    turnSeq: 1,
    messages: [{ messageId: 'in-1', text: 'show me the keys', receivedAt: new Date().toISOString() }],
  });
});
afterAll(async () => {
  await database?.close();
  await server?.drop();
});

test('a reply holding secrets is posted and stored redacted, and the event is logged without them', async () => {
  const text = `Here you go: ${GITHUB_TOKEN} and ${STRIPE_KEY}.`;
  const input: DeliverReplyInput = {
    channelId: 'channel:main:recording:c1',
    agentId: 'main',
    platform: 'recording',
    conversationId: 'c1',
    turnSeq: 1,
    step: 1,
    key: 'text',
    text,
    kind: 'reply',
  };
  const reply = (await new MockActivityEnvironment().run(activities.deliverReply, input)) as ReplyRecord;
  const expected = 'Here you go: [redacted: github token] and [redacted: stripe key].';
  expect(platform.posts.map((p) => p.text)).toEqual([expected]);
  expect(reply.text).toBe(expected);
  const stored = await database.db.selectFrom('messages').select('text').where('channel_id', '=', 'channel:main:recording:c1').where('direction', '=', 'outbound').execute();
  expect(stored).toEqual([{ text: expected }]);
  const warning = logLines.map((l) => JSON.parse(l) as { msg: string; kinds?: string[] }).find((l) => l.msg === 'an outbound reply held secrets; delivered redacted');
  expect(warning?.kinds?.sort()).toEqual(['github token', 'stripe key']);
  expect(logLines.join('')).not.toContain(GITHUB_TOKEN);
  expect(logLines.join('')).not.toContain(STRIPE_KEY);
});
