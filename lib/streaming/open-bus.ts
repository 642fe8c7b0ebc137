import type pg from 'pg';
import type { Logger } from '../logger.js';
import { LocalStreamBus, type StreamBus } from './bus.js';
import { PgStreamBus } from './pg-bus.js';

/**
 * The stream bus for this process: in memory with the embedded database (its single session cannot
 * carry notifications between connections, and only this process can own it), else Postgres
 * LISTEN/NOTIFY, so a worker and an API in different processes share the stream.
 */
export function openStreamBus(database: { embedded: boolean; pool: pg.Pool; url: string }, logger: Logger): StreamBus {
  if (database.embedded) return new LocalStreamBus();
  return new PgStreamBus({ pool: database.pool, url: database.url, logger: logger.child({ component: 'stream-bus' }) });
}
