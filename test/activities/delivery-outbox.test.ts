import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Api } from 'grammy';
import { createActivities } from '../../activities/index.js';
import type { DeliverHeartbeatInput, DeliverReplyInput } from '../../activities/contract.js';
import { OutboundAdapters } from '../../adapters/outbound.js';
import { TelegramOutbound } from '../../adapters/telegram/outbound.js';
import { loadConfig } from '../../lib/config/load.js';
import type { SpacebotConfig } from '../../lib/config/types.js';
import { ProviderRegistry } from '../../lib/llm/registry.js';
import { createLogger } from '../../lib/logger.js';
import { openDatabase, type DatabaseRuntime } from '../../lib/runtime/database-runtime.js';
import { DELIVERY_MAX_ATTEMPTS } from '../../workflows/delivery-budget.js';
import { startFakeTelegram, type FakeTelegram } from '../fake-platforms/telegram/server.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/**
 * The delivery outbox (activities/delivery-attempt.ts) driven through the real delivery activities
 * and the real Telegram adapter against the fake Bot API. Each "worker" is its own activity deps and
 * adapter instance (nothing shared in memory), as two worker processes would be; only the database
 * is common.
 */
let tg: FakeTelegram;
let database: DatabaseRuntime;
// With TEST_DATABASE_URL, a database of this file's own: its keys are fixed, so a shared one would
// already hold the rows of an earlier run.
let server: TestDatabase;
let config: SpacebotConfig;
const logger = createLogger('test', 'silent');

/** A fresh worker: its own Telegram adapter and activities, sharing only the database. */
function worker() {
  const outbound = new TelegramOutbound({ platform: 'telegram', api: new Api(tg.token, { apiRoot: tg.url }), token: tg.token, format: 'plain', logger });
  return createActivities({ config, db: database.db, providers: new ProviderRegistry(config.providers), outbound: new OutboundAdapters([outbound]), logger });
}

/** About four Telegram messages of text, every line distinct. */
const longText = Array.from({ length: 300 }, (_, i) => `Line ${i}: ${'lorem ipsum '.repeat(3).trim()}`).join('\n');

let chatSeq = 5000;
/** A conversation of its own per test: its inbound message recorded (the channel row exists). */
async function conversation(): Promise<{ chatId: number; input: Omit<DeliverReplyInput, 'text'> }> {
  const chatId = ++chatSeq;
  const base = { channelId: `channel:main:telegram:${chatId}`, agentId: 'main', platform: 'telegram', conversationId: String(chatId), turnSeq: 1 };
  await new MockActivityEnvironment().run(worker().recordInbound, { ...base, messages: [{ messageId: '7', text: 'hello', receivedAt: new Date().toISOString() }] });
  return { chatId, input: { ...base, step: 1, key: 'text', kind: 'reply', replyTo: '7' } };
}

const sentTo = (chatId: number) => tg.sent.filter((m) => m.chat_id === chatId);
const sendCallsTo = (chatId: number) => tg.calls.filter((c) => c.method === 'sendMessage' && Number(c.payload.chat_id) === chatId);
const deliveryRow = (key: string) => database.db.selectFrom('deliveries').selectAll().where('key', '=', key).executeTakeFirstOrThrow();

/** Runs an activity; resolves `waiting` when it heartbeats that it waits for another attempt's lease. */
function runWatched<A extends unknown[], R>(attempt: number, fn: (...args: A) => Promise<R>, ...args: A) {
  const env = new MockActivityEnvironment({ attempt });
  const waiting = new Promise<void>((resolve) => env.on('heartbeat', (details: unknown) => (details as { waitingFor?: unknown } | undefined)?.waitingFor && resolve()));
  return { waiting, done: env.run(fn, ...args) };
}

beforeAll(async () => {
  tg = await startFakeTelegram();
  server = await createTestDatabase();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-outbox-'));
  config = loadConfig({ cwd: dir, env: { SPACEBOT_DATA_DIR: path.join(dir, 'data'), DATABASE_URL: server.url } });
  database = await openDatabase(config, logger);
});
afterAll(async () => {
  await database?.close();
  await server?.drop();
  await tg?.close();
});

test('two concurrent delivery attempts post once: the second waits on the first one\'s lease', async () => {
  const { chatId, input } = await conversation();
  const reply = { ...input, text: 'one answer, posted once' };
  // The first attempt's post is slow: Temporal starts a second attempt (another worker) meanwhile.
  const slow = tg.holdNext('sendMessage');
  const first = new MockActivityEnvironment({ attempt: 1 }).run(worker().deliverReply, reply);
  await slow.reached;
  const second = runWatched(2, worker().deliverReply, reply);
  await Promise.race([second.waiting, second.done.catch(() => undefined)]);
  slow.release();
  const [a, b] = await Promise.all([first, second.done]);
  expect(b).toEqual(a);
  expect(sentTo(chatId).map((m) => m.text)).toEqual(['one answer, posted once']);
  const row = await deliveryRow(`${input.channelId}:1:1:text`);
  expect(row).toMatchObject({ status: 'delivered', attempts: 1, lease_owner: null, platform_message_id: String(sentTo(chatId)[0]!.message_id) });
});

test('a retry on another worker posts only the Telegram parts still missing', async () => {
  const { chatId, input } = await conversation();
  const reply = { ...input, text: longText };
  // Part 1 is posted, part 2 fails: the attempt dies there.
  tg.failNext('sendMessage', { error_code: 502, description: 'Bad Gateway' }, 1);
  await expect(new MockActivityEnvironment({ attempt: 1 }).run(worker().deliverReply, reply)).rejects.toThrow(/Bad Gateway/);
  expect(sentTo(chatId)).toHaveLength(1);
  const afterFirst = await deliveryRow(`${input.channelId}:1:1:text`);
  expect(afterFirst).toMatchObject({ status: 'pending', posted_parts: [String(sentTo(chatId)[0]!.message_id)], lease_owner: null });

  // The retry runs on another worker, which has nothing of the first in memory.
  await new MockActivityEnvironment({ attempt: 2 }).run(worker().deliverReply, reply);
  const sent = sentTo(chatId);
  expect(sent.length).toBeGreaterThanOrEqual(3);
  expect(new Set(sent.map((m) => m.text)).size).toBe(sent.length);
  expect(sent.map((m) => m.text).join('\n')).toBe(longText);
  // Only the first part answers the user's message.
  expect(sent.map((m) => m.reply_to_message_id)).toEqual([7, ...sent.slice(1).map(() => undefined)]);
  expect(sendCallsTo(chatId)).toHaveLength(sent.length + 1);
  const row = await deliveryRow(`${input.channelId}:1:1:text`);
  expect(row).toMatchObject({ status: 'delivered', attempts: 2, posted_parts: sent.map((m) => String(m.message_id)), platform_message_id: String(sent[0]!.message_id) });
});

test('a delivery that keeps failing ends as failed on the last attempt of its budget, and the activity returns', async () => {
  const { chatId, input } = await conversation();
  const reply = { ...input, text: 'never gets through' };
  for (let attempt = 1; attempt < DELIVERY_MAX_ATTEMPTS; attempt++) {
    tg.failNext('sendMessage', { error_code: 500, description: 'Internal Server Error' });
    await expect(new MockActivityEnvironment({ attempt }).run(worker().deliverReply, reply)).rejects.toThrow(/Internal Server Error/);
    expect((await deliveryRow(`${input.channelId}:1:1:text`)).status).toBe('pending');
  }
  tg.failNext('sendMessage', { error_code: 503, description: 'Service Unavailable' });
  // The last attempt: the failure is recorded and the turn goes on with the reply it has.
  const result = await new MockActivityEnvironment({ attempt: DELIVERY_MAX_ATTEMPTS }).run(worker().deliverReply, reply);
  expect(result).toMatchObject({ text: 'never gets through', kind: 'reply' });
  const row = await deliveryRow(`${input.channelId}:1:1:text`);
  expect(row).toMatchObject({ status: 'failed', attempts: DELIVERY_MAX_ATTEMPTS, lease_owner: null });
  expect(row.last_error).toMatch(/Service Unavailable/);
  expect(row.failed_at).not.toBeNull();
  // A later run of the same delivery (a replayed workflow) posts nothing.
  await new MockActivityEnvironment({ attempt: 1 }).run(worker().deliverReply, reply);
  expect(sentTo(chatId)).toEqual([]);
});

test('heartbeat deliveries use the same protocol: concurrent attempts post once, a retry elsewhere posts only missing parts', async () => {
  const chatId = ++chatSeq;
  const heartbeat = (runId: string, text: string): DeliverHeartbeatInput => ({
    scheduleId: 'heartbeat:main:daily',
    heartbeatId: 'daily',
    agentId: 'main',
    workflowId: 'heartbeat:main:daily-run',
    runId,
    target: { kind: 'channel', platform: 'telegram', conversation: String(chatId) },
    text,
    scheduledAt: new Date().toISOString(),
  });

  const slow = tg.holdNext('sendMessage');
  const first = new MockActivityEnvironment({ attempt: 1 }).run(worker().deliverHeartbeat, heartbeat('run-1', 'the daily summary'));
  await slow.reached;
  const second = runWatched(2, worker().deliverHeartbeat, heartbeat('run-1', 'the daily summary'));
  await Promise.race([second.waiting, second.done.catch(() => undefined)]);
  slow.release();
  await Promise.all([first, second.done]);
  expect(sentTo(chatId).map((m) => m.text)).toEqual(['the daily summary']);

  tg.failNext('sendMessage', { error_code: 502, description: 'Bad Gateway' }, 1);
  await expect(new MockActivityEnvironment({ attempt: 1 }).run(worker().deliverHeartbeat, heartbeat('run-2', longText))).rejects.toThrow(/Bad Gateway/);
  await new MockActivityEnvironment({ attempt: 2 }).run(worker().deliverHeartbeat, heartbeat('run-2', longText));
  const parts = sentTo(chatId).slice(1);
  expect(parts.length).toBeGreaterThanOrEqual(3);
  expect(parts.map((m) => m.text).join('\n')).toBe(longText);
  const row = await deliveryRow('heartbeat:main:daily:run-2');
  expect(row).toMatchObject({ status: 'delivered', posted_parts: parts.map((m) => String(m.message_id)) });
});
