/**
 * The stream bus: events of a channel reach its subscribers in order, other channels' do not, and an
 * unsubscribed listener hears nothing more: the same contract for the in-memory bus and the Postgres
 * LISTEN/NOTIFY bus. The latter needs a real PostgreSQL server (PGlite's socket server cannot carry
 * notifications between connections: see lib/streaming/pg-bus.ts), any version, no pgvector:
 * STREAM_BUS_DATABASE_URL, else the machine's postgres://postgres@127.0.0.1:5432/test, as in
 * test/streaming/pg-bus.test.ts, which tests that bus's reconnects and limits. The bus runs in a
 * database of its own on that server: NOTIFY reaches only listeners of the same database, so other
 * runs using the fixed channel ids here at the same time cannot be heard.
 */
import { connectDatabase, type Db } from '../../lib/db/database.js';
import { createLogger } from '../../lib/logger.js';
import { LocalStreamBus, type StreamBus, type StreamEvent } from '../../lib/streaming/bus.js';
import { PgStreamBus } from '../../lib/streaming/pg-bus.js';
import { eventually } from '../helpers/harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

const logger = createLogger('spacebot-test', process.env.LOG_LEVEL ?? 'silent');
const where = { turn: 3, step: 1 };

async function behavesAsABus(bus: StreamBus): Promise<void> {
  const heard: StreamEvent[] = [];
  const other: StreamEvent[] = [];
  const stop = await bus.subscribe('channel:a', (e) => heard.push(e));
  await bus.subscribe('channel:b', (e) => other.push(e));
  const long = 'x'.repeat(2_500) + 'ü'.repeat(1_500);
  const events: StreamEvent[] = [
    { type: 'delta', channelId: 'channel:a', ...where, key: 'text', text: 'one ' },
    { type: 'reset', channelId: 'channel:a', ...where, reason: 'retried' },
    { type: 'delta', channelId: 'channel:a', ...where, key: 'text', text: long },
    { type: 'done', channelId: 'channel:a', ...where, key: 'text', messageId: '1', text: 'final', kind: 'reply' },
  ];
  for (const e of events) bus.publish(e);
  bus.publish({ type: 'delta', channelId: 'channel:b', ...where, key: 'text', text: 'elsewhere' });
  await eventually(async () => (heard.some((e) => e.type === 'done') ? true : undefined), 10_000, 'the done event');
  // Long deltas may arrive in pieces, but in order and complete.
  const deltas = heard.filter((e) => e.type === 'delta').map((e) => (e.type === 'delta' ? e.text : ''));
  expect(deltas.join('')).toBe(`one ${long}`);
  expect(heard.map((e) => e.type).filter((t, i, all) => t !== all[i - 1])).toEqual(['delta', 'reset', 'delta', 'done']);
  await eventually(async () => (other.length ? true : undefined), 10_000, 'the other channel');
  expect(other.map((e) => e.type === 'delta' && e.text)).toEqual(['elsewhere']);
  stop();
  const count = heard.length;
  bus.publish({ type: 'delta', channelId: 'channel:a', ...where, key: 'text', text: 'unheard' });
  bus.publish({ type: 'delta', channelId: 'channel:b', ...where, key: 'text', text: 'marker' });
  await eventually(async () => (other.length === 2 ? true : undefined), 10_000, 'the marker');
  expect(heard).toHaveLength(count);
}

describe('LocalStreamBus', () => {
  it('delivers a channel’s events in order to its subscribers only', async () => {
    const bus = new LocalStreamBus();
    await behavesAsABus(bus);
    await bus.close();
  });
});

const url = process.env.STREAM_BUS_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
describe('PgStreamBus', () => {
  let fresh: TestDatabase;
  let db: Db;
  beforeAll(async () => {
    fresh = await createTestDatabase(url);
    db = connectDatabase(fresh.url as string, 2);
  });
  afterAll(async () => {
    await db?.close();
    await fresh?.drop();
  });

  it('delivers a channel’s events in order across connections', async () => {
    const bus = new PgStreamBus({ pool: db.pool, url: fresh.url as string, logger });
    await behavesAsABus(bus);
    await bus.close();
  });
});
