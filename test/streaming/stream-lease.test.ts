import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Api } from 'grammy';
import { TelegramOutbound } from '../../adapters/telegram/outbound.js';
import { loadConfig } from '../../lib/config/load.js';
import { createLogger } from '../../lib/logger.js';
import { openDatabase, type DatabaseRuntime } from '../../lib/runtime/database-runtime.js';
import { deliveryKeyOf, draftFor } from '../../lib/streaming/drafts.js';
import { FLUSH_CHARS, ReplyStream } from '../../lib/streaming/reply-stream.js';
import { startFakeTelegram, type FakeTelegram } from '../fake-platforms/telegram/server.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/**
 * Streamed drafts are coordinated through the database (stream_leases), not process memory: two
 * attempts of one model call, each with its own adapter instance (as on two workers), against the
 * fake Bot API. The retry waits for the earlier attempt's draft post before reading the drafts, and
 * the earlier attempt, superseded, makes no platform call any more.
 */
let tg: FakeTelegram;
let database: DatabaseRuntime;
// With TEST_DATABASE_URL, a database of this file's own: its keys are fixed, so a shared one would
// already hold the rows of an earlier run.
let server: TestDatabase;
const logger = createLogger('test', 'silent');
const chatId = 8080;
const position = { channelId: `channel:main:telegram:${chatId}`, turnSeq: 1, step: 1, platform: 'telegram', conversationId: String(chatId) };

const stream = (generation: number) =>
  new ReplyStream({
    adapter: new TelegramOutbound({ platform: 'telegram', api: new Api(tg.token, { apiRoot: tg.url }), token: tg.token, format: 'plain', logger }),
    db: database.db,
    position,
    logger,
    generation,
  });

beforeAll(async () => {
  tg = await startFakeTelegram();
  server = await createTestDatabase();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-stream-lease-'));
  const config = loadConfig({ cwd: dir, env: { SPACEBOT_DATA_DIR: path.join(dir, 'data'), DATABASE_URL: server.url } });
  database = await openDatabase(config, logger);
});
afterAll(async () => {
  await database?.close();
  await server?.drop();
  await tg?.close();
});

test('a retried model call waits for the earlier attempt\'s draft post, takes the draft over, and the earlier attempt stops', async () => {
  const first = stream(1);
  await first.start();
  // The first attempt's draft post is slow; meanwhile its activity fails and is retried elsewhere.
  const slow = tg.holdNext('sendMessage');
  first.push('text', `first attempt ${'a'.repeat(FLUSH_CHARS)}`);
  await slow.reached;
  const second = stream(2);
  const started = second.start();
  slow.release();
  await started;
  // The retry found the draft (it waited for the post) and voided it for its own text.
  expect(tg.sent.filter((m) => m.chat_id === chatId)).toHaveLength(1);
  const draftId = tg.sent.find((m) => m.chat_id === chatId)!.message_id;
  expect(tg.edits.filter((e) => e.message_id === draftId).map((e) => e.text)).toEqual(['…']);

  // The superseded attempt keeps receiving text (its model stream still runs): no platform call.
  const callsBefore = tg.calls.length;
  first.push('text', `stale ${'b'.repeat(FLUSH_CHARS)}`);
  await first.finish(new Map([['text', 'stale']]));
  expect(tg.calls.length).toBe(callsBefore);

  second.push('text', `second attempt ${'c'.repeat(FLUSH_CHARS)}`);
  await second.finish(new Map([['text', 'the answer']]));
  expect(tg.sent.filter((m) => m.chat_id === chatId)).toHaveLength(1);
  expect(tg.edits.filter((e) => e.message_id === draftId).map((e) => e.text.slice(0, 15))).toEqual(['…', 'second attempt ']);
  expect(await draftFor(database.db, deliveryKeyOf(position, 'text'))).toEqual({ deliveryKey: deliveryKeyOf(position, 'text'), platformMessageId: String(draftId) });
});

test('a finished stream deletes its channel\'s leases that expired over an hour ago, and no others', async () => {
  const channelId = 'channel:main:telegram:8181';
  const lease = (turnSeq: number, expiredMinutesAgo: number) => ({ channel_id: channelId, turn_seq: turnSeq, step: 1, owner: 'x', generation: 1, expires_at: new Date(Date.now() - expiredMinutesAgo * 60_000) });
  await database.db.insertInto('stream_leases').values([lease(1, 24 * 60), lease(2, 61), lease(3, 50), { ...lease(1, 24 * 60), channel_id: 'channel:main:telegram:other' }]).execute();
  const s = new ReplyStream({
    adapter: new TelegramOutbound({ platform: 'telegram', api: new Api(tg.token, { apiRoot: tg.url }), token: tg.token, format: 'plain', logger }),
    db: database.db,
    position: { ...position, channelId, conversationId: '8181', turnSeq: 4 },
    logger,
    generation: 1,
  });
  await s.start();
  s.push('text', `the answer ${'d'.repeat(FLUSH_CHARS)}`);
  await s.finish(new Map([['text', 'the answer']]));
  const left = await database.db.selectFrom('stream_leases').select(['channel_id', 'turn_seq']).where('channel_id', 'in', [channelId, 'channel:main:telegram:other']).orderBy('channel_id').orderBy('turn_seq').execute();
  expect(left).toEqual([
    { channel_id: channelId, turn_seq: 3 },
    { channel_id: channelId, turn_seq: 4 },
    { channel_id: 'channel:main:telegram:other', turn_seq: 1 },
  ]);
});
