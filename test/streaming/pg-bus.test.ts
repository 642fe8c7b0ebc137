/**
 * PgStreamBus on a real PostgreSQL server: LISTEN/NOTIFY between two buses with their own pools and
 * connections, as a worker process (publisher) and an API process (subscriber) would have them.
 * Deltas and resets arrive in order and only at their channel's subscribers, deltas beyond NOTIFY's
 * 8000-byte payload limit arrive intact (in pieces), unsubscribing stops delivery and gives the
 * LISTEN connection back, and a LISTEN connection that is killed (pg_terminate_backend) or cut off
 * for a while comes back and delivers what is published after.
 *
 * LISTEN/NOTIFY needs no pgvector, so any PostgreSQL will do: STREAM_BUS_DATABASE_URL, else
 * postgres://postgres@127.0.0.1:5432/test (CI machines run PostgreSQL 15 there). When the server
 * cannot be reached the tests fail, never skip. Every bus connection carries an application_name
 * unique to its test, so the test finds (and kills) its own backends only; channel ids are unique
 * too, so other users of the server's `spacebot_stream` channel do not disturb it.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { pino } from 'pino';
import { createLogger, type Logger } from '../../lib/logger.js';
import type { StreamEvent } from '../../lib/streaming/bus.js';
import { PgStreamBus } from '../../lib/streaming/pg-bus.js';
import { eventually } from '../helpers/harness.js';

const url = process.env.STREAM_BUS_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const parsed = new URL(url);
const server = `${parsed.hostname}:${parsed.port || '5432'}`;
const logger = createLogger('spacebot-test', process.env.LOG_LEVEL ?? 'silent');
const where = { turn: 7, step: 2 };

/** `url` with its connections named `name` in pg_stat_activity (and optionally another host:port). */
function urlFor(name: string, hostPort?: { host: string; port: number }): string {
  const u = new URL(url);
  u.searchParams.set('application_name', name);
  if (hostPort) {
    u.hostname = hostPort.host;
    u.port = String(hostPort.port);
  }
  return u.toString();
}

const delta = (channelId: string, text: string, key = 'text'): StreamEvent => ({ type: 'delta', channelId, ...where, key, text });
const reset = (channelId: string, reason: string): StreamEvent => ({ type: 'reset', channelId, ...where, reason });
const textOf = (events: StreamEvent[]): string => events.map((e) => (e.type === 'delta' ? e.text : '')).join('');

/** A connection of the test's own, to look at (and kill) the buses' backends. */
let admin: pg.Client;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: urlFor('spacebot-pg-bus-test-admin'), connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
  } catch (err) {
    await admin.end().catch(() => undefined);
    throw new Error(
      `this test needs a PostgreSQL server at ${server} (CI machines run PostgreSQL 15 on 127.0.0.1:5432; ` +
        `set STREAM_BUS_DATABASE_URL to use another), but it cannot be reached: ${(err as Error).message}`,
    );
  }
});

afterAll(async () => {
  await admin?.end();
});

/** Backend pids of connections named `name`. */
async function backendsOf(name: string): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid', [name]);
  return rows.map((r) => r.pid);
}

/** Backend pids of connections named `name` that are listening (their last statement was the LISTEN). */
async function listenersOf(name: string): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %' ORDER BY pid", [name]);
  return rows.map((r) => r.pid);
}

/**
 * One test's pair of "processes": a publishing bus (the worker) and a subscribing bus (the API), each
 * with its own pool; the subscriber's LISTEN connection is named `${tag}-listen`.
 */
class Pair {
  readonly tag = `spacebot-pg-bus-${randomUUID().slice(0, 8)}`;
  readonly listenName = `${this.tag}-listen`;
  readonly pubPool: pg.Pool;
  readonly subPool: pg.Pool;
  readonly publisher: PgStreamBus;
  readonly subscriber: PgStreamBus;

  /** `via`: the subscriber's LISTEN connection goes there (a proxy) instead of to the server. */
  constructor(opts: { via?: { host: string; port: number }; subscriberLogger?: Logger; subscriberPool?: pg.PoolConfig } = {}) {
    this.pubPool = new pg.Pool({ connectionString: urlFor(`${this.tag}-pub-pool`), max: 2 });
    this.subPool = new pg.Pool({ connectionString: urlFor(`${this.tag}-sub-pool`), max: 2, ...opts.subscriberPool });
    this.pubPool.on('error', () => undefined);
    this.subPool.on('error', () => undefined);
    this.publisher = new PgStreamBus({ pool: this.pubPool, url: urlFor(`${this.tag}-pub-listen`), logger });
    this.subscriber = new PgStreamBus({ pool: this.subPool, url: urlFor(this.listenName, opts.via), logger: opts.subscriberLogger ?? logger });
  }

  channel(name: string): string {
    return `channel:${this.tag}:webhook:${name}`;
  }

  /** Subscribes on the subscriber's side; `events` fills as they arrive. */
  async listen(channelId: string): Promise<{ events: StreamEvent[]; stop: () => void }> {
    const events: StreamEvent[] = [];
    const stop = await this.subscriber.subscribe(channelId, (e) => events.push(e));
    return { events, stop };
  }

  /** Closes both buses and pools, then checks that none of their connections is left on the server. */
  async close(): Promise<void> {
    await this.publisher.close();
    await this.subscriber.close();
    await this.pubPool.end();
    await this.subPool.end();
    await eventually(async () => ((await admin.query('SELECT 1 FROM pg_stat_activity WHERE application_name LIKE $1', [`${this.tag}-%`])).rowCount === 0 ? true : undefined), 10_000, 'every connection of the test to end');
  }
}

describe(`PgStreamBus on PostgreSQL at ${server}`, () => {
  let pair: Pair | undefined;
  afterEach(async () => {
    await pair?.close();
    pair = undefined;
  });

  it('delivers deltas and resets in publish order, each channel’s to its own subscribers only', async () => {
    pair = new Pair();
    const p = pair;
    const a = await p.listen(p.channel('a'));
    const a2 = await p.listen(p.channel('a'));
    const b = await p.listen(p.channel('b'));
    // Subscribing waits for the LISTEN: both subscriptions share one connection, the publisher holds none.
    expect(await listenersOf(p.listenName)).toHaveLength(1);
    expect(await backendsOf(`${p.tag}-pub-listen`)).toEqual([]);

    const forA: StreamEvent[] = [];
    for (let i = 0; i < 40; i++) {
      forA.push(delta(p.channel('a'), `a${i} `));
      if (i === 20) forA.push(reset(p.channel('a'), 'the model call is retried (attempt 2)'));
    }
    // Equal payloads in a row must not be folded into one (Postgres does that within a transaction).
    forA.push(delta(p.channel('a'), 'same'), delta(p.channel('a'), 'same'));
    forA.push(delta(p.channel('a'), 'called', 'tool:call_1'));
    forA.push({ type: 'done', channelId: p.channel('a'), ...where, key: 'text', messageId: '42', text: 'final answer', kind: 'reply' });
    const forB = [delta(p.channel('b'), 'b0'), reset(p.channel('b'), 'fallback'), delta(p.channel('b'), 'b1')];
    // Interleaved with B's, and with a channel nobody listens to.
    forA.forEach((e, i) => {
      p.publisher.publish(e);
      if (i < forB.length) p.publisher.publish(forB[i] as StreamEvent);
      p.publisher.publish(delta(p.channel('nobody'), `n${i}`));
    });

    await eventually(() => (a.events.length >= forA.length && a2.events.length >= forA.length && b.events.length >= forB.length ? true : undefined), 10_000, 'every event');
    // A moment more, so an event delivered twice or to the wrong channel would show.
    p.publisher.publish(delta(p.channel('b'), 'marker'));
    await eventually(() => (b.events.length === forB.length + 1 ? true : undefined), 10_000, 'the marker');
    expect(a.events).toEqual(forA);
    expect(a2.events).toEqual(forA);
    expect(b.events).toEqual([...forB, delta(p.channel('b'), 'marker')]);
  });

  it('delivers deltas beyond the 8000-byte NOTIFY payload limit intact, in pieces, in order', async () => {
    pair = new Pair();
    const p = pair;
    const a = await p.listen(p.channel('a'));
    // Characters that cost 1, 2, 3 and 4 UTF-8 bytes, and some that JSON escapes to 2 or 6 bytes.
    const alphabet = ['x', ' ', 'ü', '€', '日', '😀', '👩‍💻', '\n', '"', '\\', '\u0001', '\u001f'];
    const huge = Array.from({ length: 30_000 }, (_, i) => alphabet[(i * 7) % alphabet.length]).join('');
    const escapes = '\u0000'.repeat(5_000); // 6 bytes each once JSON-escaped: 30000 bytes
    expect(Buffer.byteLength(JSON.stringify(huge))).toBeGreaterThan(8_000 * 5);

    p.publisher.publish(delta(p.channel('a'), 'start '));
    p.publisher.publish(delta(p.channel('a'), huge));
    p.publisher.publish(reset(p.channel('a'), `fell back: ${'why '.repeat(5_000)}`));
    p.publisher.publish(delta(p.channel('a'), escapes, 'tool:call_9'));
    p.publisher.publish(delta(p.channel('a'), ' end'));

    await eventually(() => (textOf(a.events).endsWith(' end') ? true : undefined), 10_000, 'the last delta');
    const resetAt = a.events.findIndex((e) => e.type === 'reset');
    expect(resetAt).toBeGreaterThan(1);
    const before = a.events.slice(0, resetAt);
    const after = a.events.slice(resetAt + 1);
    expect(textOf(before)).toBe(`start ${huge}`);
    expect(before.length).toBeGreaterThan(2); // it did arrive in pieces
    for (const e of before) expect(e).toMatchObject({ type: 'delta', channelId: p.channel('a'), ...where, key: 'text' });
    // A reason too long for a notification is shortened, not dropped.
    expect(a.events[resetAt]).toMatchObject({ type: 'reset', channelId: p.channel('a'), ...where });
    const reason = (a.events[resetAt] as Extract<StreamEvent, { type: 'reset' }>).reason;
    expect(reason.startsWith('fell back: why why')).toBe(true);
    expect(reason.length).toBeLessThan(1_000);
    expect(textOf(after.filter((e) => e.type === 'delta' && e.key === 'tool:call_9'))).toBe(escapes);
    expect(after.at(-1)).toEqual(delta(p.channel('a'), ' end'));
    expect(after.every((e) => e.type === 'delta')).toBe(true);
  });

  it('reads a final text too long for a notification from the transcript, keeping the order', async () => {
    // The subscriber's pool sees a scratch schema with just enough of `messages` for the lookup.
    const schema = `spacebot_pg_bus_${randomUUID().slice(0, 8)}`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      await admin.query(`CREATE TABLE ${schema}.messages (id bigint PRIMARY KEY, text text NOT NULL)`);
      const final = `${'The whole answer, '.repeat(1_000)}done.`;
      await admin.query(`INSERT INTO ${schema}.messages (id, text) VALUES (17, $1)`, [final]);
      pair = new Pair({ subscriberPool: { options: `-c search_path=${schema}` } });
      const p = pair;
      const a = await p.listen(p.channel('a'));

      p.publisher.publish(delta(p.channel('a'), 'partial'));
      p.publisher.publish({ type: 'done', channelId: p.channel('a'), ...where, key: 'text', messageId: '17', text: final, kind: 'reply' });
      p.publisher.publish(delta(p.channel('a'), 'next step'));

      await eventually(() => (a.events.length === 3 ? true : undefined), 10_000, 'three events');
      // The lookup takes a query: the delta after the done must not overtake it.
      expect(a.events.map((e) => `${e.type} ${e.type === 'reset' ? e.reason : e.text.length}`)).toEqual(['delta 7', `done ${final.length}`, 'delta 9']);
      expect(a.events).toEqual([
        delta(p.channel('a'), 'partial'),
        { type: 'done', channelId: p.channel('a'), ...where, key: 'text', messageId: '17', text: final, kind: 'reply' },
        delta(p.channel('a'), 'next step'),
      ]);
    } finally {
      await pair?.close();
      pair = undefined;
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });

  it('stops delivering to an unsubscribed listener and releases the LISTEN connection after the last one', async () => {
    pair = new Pair();
    const p = pair;
    const first = await p.listen(p.channel('a'));
    const second = await p.listen(p.channel('a'));
    const [pid] = await listenersOf(p.listenName);
    expect(pid).toBeDefined();

    p.publisher.publish(delta(p.channel('a'), 'both'));
    await eventually(() => (first.events.length === 1 && second.events.length === 1 ? true : undefined), 10_000, 'the first delta');

    first.stop();
    first.stop(); // twice is harmless: the second subscription keeps the connection
    p.publisher.publish(delta(p.channel('a'), 'second only'));
    await eventually(() => (second.events.length === 2 ? true : undefined), 10_000, 'the second delta');
    expect(first.events).toEqual([delta(p.channel('a'), 'both')]);
    expect(await listenersOf(p.listenName)).toEqual([pid]);

    second.stop();
    await eventually(async () => ((await backendsOf(p.listenName)).length === 0 ? true : undefined), 10_000, 'the LISTEN connection to be released');

    // Subscribing again listens on a new connection; the old subscriptions hear nothing more.
    const third = await p.listen(p.channel('b'));
    expect(await listenersOf(p.listenName)).toHaveLength(1);
    p.publisher.publish(delta(p.channel('a'), 'unheard'));
    p.publisher.publish(delta(p.channel('b'), 'marker'));
    await eventually(() => (third.events.length === 1 ? true : undefined), 10_000, 'the marker');
    expect(first.events).toHaveLength(1);
    expect(second.events).toHaveLength(2);
    third.stop();
    await eventually(async () => ((await backendsOf(p.listenName)).length === 0 ? true : undefined), 10_000, 'the LISTEN connection to be released again');
  });

  it('reconnects a LISTEN connection killed by pg_terminate_backend and delivers what is published after', async () => {
    pair = new Pair();
    const p = pair;
    const a = await p.listen(p.channel('a'));
    const b = await p.listen(p.channel('b'));
    p.publisher.publish(delta(p.channel('a'), 'before'));
    await eventually(() => (a.events.length === 1 ? true : undefined), 10_000, 'the first delta');

    const [pid] = await listenersOf(p.listenName);
    expect(pid).toBeDefined();
    const { rows } = await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
    expect(rows[0]?.ok).toBe(true);

    // Events published while it is down are missed (the transcript is the record): probe until one
    // arrives on the new connection.
    let probes = 0;
    await eventually(
      () => {
        if (b.events.length) return true;
        p.publisher.publish(delta(p.channel('b'), `probe ${++probes}`));
        return undefined;
      },
      20_000,
      'the listener to reconnect',
    );
    const listening = await listenersOf(p.listenName);
    expect(listening).toHaveLength(1);
    expect(listening).not.toContain(pid);

    const later = [delta(p.channel('a'), 'after 1'), reset(p.channel('a'), 'retried'), delta(p.channel('a'), 'after 2'), delta(p.channel('a'), 'after 3')];
    for (const e of later) p.publisher.publish(e);
    await eventually(() => (a.events.length >= 1 + later.length ? true : undefined), 10_000, 'the later events');
    expect(a.events).toEqual([delta(p.channel('a'), 'before'), ...later]);
    // Only B's probes reached B, each at most once and in order.
    const probesHeard = b.events.map((e) => (e.type === 'delta' ? e.text : e.type));
    expect(probesHeard).toEqual([...probesHeard].sort((x, y) => Number(x.split(' ')[1]) - Number(y.split(' ')[1])));
    expect(new Set(probesHeard).size).toBe(probesHeard.length);
  });

  it('keeps trying to reconnect while the server cannot be reached, and delivers again once it can', async () => {
    const warnings: { msg?: string }[] = [];
    const captured = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as { msg?: string }) });
    const proxy = await startProxy({ host: parsed.hostname, port: Number(parsed.port || 5432) });
    try {
      pair = new Pair({ via: { host: '127.0.0.1', port: proxy.port }, subscriberLogger: captured });
      const p = pair;
      const a = await p.listen(p.channel('a'));
      p.publisher.publish(delta(p.channel('a'), 'before'));
      await eventually(() => (a.events.length === 1 ? true : undefined), 10_000, 'the first delta');

      // The network goes away: the connection drops, and new ones are cut off at once.
      proxy.cut();
      await eventually(() => (warnings.filter((w) => /reconnect failed/.test(w.msg ?? '')).length >= 2 ? true : undefined), 20_000, 'two failed reconnects');
      expect(warnings.some((w) => /connection lost/.test(w.msg ?? ''))).toBe(true);
      proxy.restore();

      let probes = 0;
      await eventually(
        () => {
          if (a.events.length > 1) return true;
          p.publisher.publish(delta(p.channel('a'), `probe ${++probes}`));
          return undefined;
        },
        40_000,
        'the listener to reconnect',
      );
      const count = a.events.length;
      p.publisher.publish(delta(p.channel('a'), 'after'));
      await eventually(() => (a.events.length === count + 1 ? true : undefined), 10_000, 'the later delta');
      expect(a.events.at(-1)).toEqual(delta(p.channel('a'), 'after'));
    } finally {
      await pair?.close();
      pair = undefined;
      await proxy.close();
    }
  });
});

/** A TCP proxy to the server whose connections the test can cut, and keep cut, at will. */
async function startProxy(target: { host: string; port: number }): Promise<{ port: number; cut(): void; restore(): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let down = false;
  const proxy = net.createServer((client) => {
    if (down) return void client.destroy();
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
