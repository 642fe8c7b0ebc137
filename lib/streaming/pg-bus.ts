import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from '../logger.js';
import type { StreamBus, StreamEvent, StreamListener } from './bus.js';

/** One Postgres notification channel for every conversation; listeners filter by channel id. */
export const STREAM_NOTIFY_CHANNEL = 'spacebot_stream';
/** NOTIFY payloads must stay under 8000 bytes; JSON may spell a character as six (`\u0000`). */
const MAX_DELTA_CHARS = 1000;
const MAX_PAYLOAD_BYTES = 7900;
const RECONNECT_DELAY_MS = 1_000;

/**
 * The bus across processes on a real PostgreSQL: `pg_notify` from the worker's pool, `LISTEN` on one
 * dedicated connection per subscribing process (the pool's connections are shared and cannot hold a
 * LISTEN). Publishing is serialised, so events arrive in the order they were published.
 *
 * Not for the embedded PGlite: behind its socket server every connection shares one Postgres
 * session, so a notification is delivered to the connection that sent the NOTIFY, never to the one
 * that listens (checked against pglite-socket 0.2); LocalStreamBus serves that case.
 */
export class PgStreamBus implements StreamBus {
  private readonly emitter = new EventEmitter();
  private tail: Promise<unknown> = Promise.resolve();
  private listener: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: { pool: pg.Pool; url: string; logger: Logger }) {
    this.emitter.setMaxListeners(0);
  }

  publish(event: StreamEvent): void {
    for (const payload of payloads(event)) {
      this.tail = this.tail
        .then(() => this.opts.pool.query('SELECT pg_notify($1, $2)', [STREAM_NOTIFY_CHANNEL, payload]))
        .catch((err: unknown) => this.opts.logger.debug({ err: (err as Error).message, channelId: event.channelId }, 'stream event not published'));
    }
  }

  async subscribe(channelId: string, listener: StreamListener): Promise<() => void> {
    await this.listen();
    this.emitter.on(channelId, listener);
    return () => void this.emitter.off(channelId, listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.emitter.removeAllListeners();
    await this.tail;
    const client = this.listener;
    this.listener = undefined;
    await client?.end().catch(() => undefined);
  }

  private listen(): Promise<void> {
    if (this.listener) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.url });
    const lost = (err?: Error) => {
      if (this.listener !== client) return;
      this.listener = undefined;
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.opts.logger.warn({ err: err?.message }, 'stream listener connection lost; reconnecting');
      setTimeout(() => void this.listen().catch((e: unknown) => this.opts.logger.warn({ err: (e as Error).message }, 'stream listener reconnect failed')), RECONNECT_DELAY_MS).unref();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (message) => void this.dispatch(message.payload));
    await client.connect();
    await client.query(`LISTEN ${STREAM_NOTIFY_CHANNEL}`);
    this.listener = client;
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
