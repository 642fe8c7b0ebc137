import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from '../logger.js';
import type { StreamBus, StreamEvent, StreamListener } from './bus.js';

/** One Postgres notification channel for every conversation; listeners filter by channel id. */
export const STREAM_NOTIFY_CHANNEL = 'spacebot_stream';
/** NOTIFY payloads must stay under 8000 bytes; JSON may spell a character as six (`\u0000`). */
const MAX_DELTA_CHARS = 1000;
const MAX_PAYLOAD_BYTES = 7900;
/** A lost LISTEN connection is retried after this long, each failed attempt doubling it up to the max. */
const RECONNECT_DELAY_MS = 1_000;
const MAX_RECONNECT_DELAY_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;
/**
 * TCP keep-alive on the LISTEN connection, which otherwise sits idle: without it a connection whose
 * peer vanished (network cut, server host gone) is noticed only after the OS default of hours.
 */
const KEEP_ALIVE_DELAY_MS = 30_000;

/**
 * The bus across processes on a real PostgreSQL: `pg_notify` from the worker's pool, `LISTEN` on one
 * dedicated connection per subscribing process (the pool's connections are shared and cannot hold a
 * LISTEN). Publishing is serialised, so events arrive in the order they were published; they are
 * dispatched one at a time too, so a `done` whose text must be read first is not overtaken.
 *
 * The LISTEN connection is opened by the first subscription and closed when the last one ends, so an
 * API without stream clients holds none. When it is lost (server restart, pg_terminate_backend, a
 * network cut) it is reopened, retrying with backoff while there are subscribers; events published
 * meanwhile are missed, which the stream allows: the transcript is the record and `done` carries
 * each reply's final text.
 *
 * Not for the embedded PGlite: behind its socket server every connection shares one Postgres
 * session, so a notification is delivered to the connection that sent the NOTIFY, never to the one
 * that listens (checked against pglite-socket 0.2); LocalStreamBus serves that case.
 */
export class PgStreamBus implements StreamBus {
  private readonly emitter = new EventEmitter();
  private tail: Promise<unknown> = Promise.resolve();
  /** Received notifications, dispatched in arrival order. */
  private inbox: Promise<void> = Promise.resolve();
  private listener: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private retryDelayMs = RECONNECT_DELAY_MS;
  /** Subscriptions not yet ended; the LISTEN connection is held while there are any. */
  private subscriptions = 0;
  private closed = false;

  constructor(private readonly opts: { pool: pg.Pool; url: string; logger: Logger }) {
    this.emitter.setMaxListeners(0);
  }

  publish(event: StreamEvent): void {
    // One pg_notify per statement, each its own transaction: Postgres folds equal payloads sent in one
    // transaction into a single notification, which would lose a repeated delta.
    for (const payload of payloads(event)) {
      this.tail = this.tail
        .then(() => this.opts.pool.query('SELECT pg_notify($1, $2)', [STREAM_NOTIFY_CHANNEL, payload]))
        .catch((err: unknown) => this.opts.logger.debug({ err: (err as Error).message, channelId: event.channelId }, 'stream event not published'));
    }
  }

  /** Resolves once this process LISTENs, so nothing published after it returns is missed. */
  async subscribe(channelId: string, listener: StreamListener): Promise<() => void> {
    if (this.closed) throw new Error('the stream bus is closed');
    this.subscriptions++;
    try {
      await this.listen();
      if (this.closed) throw new Error('the stream bus is closed');
    } catch (err) {
      this.release();
      throw err;
    }
    this.emitter.on(channelId, listener);
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.emitter.off(channelId, listener);
      this.release();
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.emitter.removeAllListeners();
    await this.tail;
    clearTimeout(this.retry);
    this.retry = undefined;
    // A connection being opened sees `closed` and ends itself.
    await this.connecting?.catch(() => undefined);
    const client = this.listener;
    this.listener = undefined;
    await client?.end().catch(() => undefined);
    await this.inbox;
  }

  /** A subscription ended: the last one gives the LISTEN connection back. */
  private release(): void {
    if (--this.subscriptions > 0) return;
    clearTimeout(this.retry);
    this.retry = undefined;
    const client = this.listener;
    this.listener = undefined;
    void client?.end().catch(() => undefined);
  }

  private listen(): Promise<void> {
    if (this.listener) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.opts.url,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEP_ALIVE_DELAY_MS,
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => this.receive(message.payload));
    try {
      await client.connect();
      await client.query(`LISTEN ${STREAM_NOTIFY_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    // Everyone unsubscribed (or the bus closed) while it connected: nobody needs it any more.
    if (this.closed || this.subscriptions === 0) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    this.retryDelayMs = RECONNECT_DELAY_MS;
  }

  /** The LISTEN connection failed or ended: reconnect while anyone listens. */
  private lost(client: pg.Client, err?: Error): void {
    if (this.listener !== client) return; // not (or no longer) the connection in use
    this.listener = undefined;
    client.end().catch(() => undefined);
    if (this.closed || this.subscriptions === 0) return;
    this.opts.logger.warn({ err: err?.message, retryInMs: this.retryDelayMs }, 'stream listener connection lost; reconnecting (events published meanwhile are missed)');
    this.reconnectLater();
  }

  /** Reopens the LISTEN connection after the current delay; a failed attempt schedules the next one. */
  private reconnectLater(): void {
    if (this.retry || this.closed || this.subscriptions === 0) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(delay * 2, MAX_RECONNECT_DELAY_MS);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.closed || this.subscriptions === 0) return;
      this.listen().catch((err: unknown) => {
        this.opts.logger.warn({ err: (err as Error).message, retryInMs: this.retryDelayMs }, 'stream listener reconnect failed; retrying');
        this.reconnectLater();
      });
    }, delay);
    this.retry.unref();
  }

  private receive(payload: string | undefined): void {
    this.inbox = this.inbox
      .then(() => this.dispatch(payload))
      .catch((err: unknown) => this.opts.logger.warn({ err: (err as Error).message }, 'a stream listener failed'));
  }

  private async dispatch(payload: string | undefined): Promise<void> {
    if (!payload) return;
    let event: StreamEvent;
    try {
      event = JSON.parse(payload) as StreamEvent;
    } catch {
      return;
    }
    if (this.emitter.listenerCount(event.channelId) === 0) return;
    // A final text too long for a notification was left out: the transcript has it.
    if (event.type === 'done' && typeof event.text !== 'string') {
      const row = await this.opts.pool.query<{ text: string }>('SELECT text FROM messages WHERE id = $1', [event.messageId]).catch(() => undefined);
      event = { ...event, text: row?.rows[0]?.text ?? '' };
    }
    this.emitter.emit(event.channelId, event);
  }
}

/** The notification payloads for one event: long deltas in pieces, a long final text left out. */
function payloads(event: StreamEvent): string[] {
  if (event.type === 'delta' && event.text.length > MAX_DELTA_CHARS) {
    const pieces: string[] = [];
    const chars = Array.from(event.text);
    for (let i = 0; i < chars.length; i += MAX_DELTA_CHARS) pieces.push(JSON.stringify({ ...event, text: chars.slice(i, i + MAX_DELTA_CHARS).join('') }));
    return pieces;
  }
  const payload = JSON.stringify(event);
  if (Buffer.byteLength(payload) <= MAX_PAYLOAD_BYTES) return [payload];
  switch (event.type) {
    case 'done':
      return [JSON.stringify({ ...event, text: undefined })];
    case 'reset':
      return [JSON.stringify({ ...event, reason: event.reason.slice(0, 500) })];
    default:
      // A delta of at most MAX_DELTA_CHARS escaped characters always fits.
      return [payload];
  }
}
