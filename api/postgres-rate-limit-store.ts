import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../lib/db/schema.js';
import type { Logger } from '../lib/logger.js';

/** How long a request waits on the counter before the per-process fallback answers (a hung database must not hang the API). */
export const RATE_LIMIT_DB_TIMEOUT_MS = 5_000;
/** At most one "database unreachable" warning, and one sweep of expired windows, per this interval and process. */
const EVERY_MINUTE_MS = 60_000;
/** Expired windows deleted per sweep: bounded, so a sweep is one cheap statement whatever piled up. */
const SWEEP_BATCH = 1_000;
/** Keys the fallback holds at most; past it, it starts over (a flood of addresses cannot grow the process). */
const FALLBACK_MAX_KEYS = 10_000;

type Incr = FastifyRateLimitStore['incr'];
type Counted = { current: number; ttl: number };

/**
 * A store for @fastify/rate-limit whose counters live in Postgres (migrations/016_api_rate_limits.sql),
 * so every API process on one database draws on one budget per key: the project keeps no state in a
 * process's memory, and N processes with in-memory counters would each allow the full rate.
 *
 * One fixed window per key, one statement per request: the upsert starts a window, counts in it, or
 * restarts it once expired, and returns the count and the time left. Keys arrive already free of
 * secrets (api/rate-limits.ts hashes the token).
 *
 * When the database is unreachable or slow (RATE_LIMIT_DB_TIMEOUT_MS), the limit falls back to a
 * per-process counter and warns once a minute. Why not fail open: the per-address limit is what caps
 * token guessing, and it should not vanish with the database. Why not refuse: a database blip must not
 * turn every request (health of the limiter included) into a 500 or a 429. The fallback is the old
 * behaviour: each process allows the full rate until the database is back.
 */
export function postgresRateLimitStore(db: Kysely<Database>, logger: Logger): FastifyRateLimitStoreCtor {
  const shared = { lastWarning: 0, lastSweep: 0, fallback: new Map<string, { count: number; resetAt: number }>() };

  function warnOncePerMinute(err: unknown): void {
    const now = Date.now();
    if (now - shared.lastWarning < EVERY_MINUTE_MS) return;
    shared.lastWarning = now;
    logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'rate-limit counters unreachable in the database; limiting per process until it is back');
  }

  function sweepOncePerMinute(): void {
    const now = Date.now();
    if (now - shared.lastSweep < EVERY_MINUTE_MS) return;
    shared.lastSweep = now;
    void sql`DELETE FROM api_rate_limits WHERE key IN (
      SELECT key FROM api_rate_limits WHERE expires_at < now() LIMIT ${SWEEP_BATCH})`
      .execute(db)
      .catch((err: unknown) => warnOncePerMinute(err));
  }

  function countInProcess(key: string, timeWindow: number): Counted {
    const now = Date.now();
    let entry = shared.fallback.get(key);
    if (!entry || entry.resetAt <= now) {
      if (!entry && shared.fallback.size >= FALLBACK_MAX_KEYS) shared.fallback.clear();
      entry = { count: 0, resetAt: now + timeWindow };
      shared.fallback.set(key, entry);
    }
    entry.count += 1;
    return { current: entry.count, ttl: entry.resetAt - now };
  }

  async function countInDatabase(key: string, timeWindow: number): Promise<Counted> {
    const { rows } = await sql<{ count: string; ttl_ms: string }>`
      INSERT INTO api_rate_limits AS r (key, count, expires_at)
      VALUES (${key}, 1, now() + ${timeWindow} * interval '1 millisecond')
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN r.expires_at <= now() THEN 1 ELSE r.count + 1 END,
        expires_at = CASE WHEN r.expires_at <= now() THEN EXCLUDED.expires_at ELSE r.expires_at END
      RETURNING count, GREATEST(0, CEIL(EXTRACT(EPOCH FROM (expires_at - now())) * 1000))::bigint AS ttl_ms`.execute(db);
    const row = rows[0];
    if (!row) throw new Error('rate-limit upsert returned no row');
    return { current: Number(row.count), ttl: Number(row.ttl_ms) };
  }

  class PostgresRateLimitStore implements FastifyRateLimitStore {
    incr: Incr = (key, callback, timeWindow) => {
      sweepOncePerMinute();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${RATE_LIMIT_DB_TIMEOUT_MS} ms`)), RATE_LIMIT_DB_TIMEOUT_MS);
      });
      Promise.race([countInDatabase(key, timeWindow), timeout])
        .catch((err: unknown) => {
          warnOncePerMinute(err);
          return countInProcess(key, timeWindow);
        })
        .then((counted) => callback(null, counted))
        .finally(() => clearTimeout(timer))
        .catch(() => undefined);
    };

    // Every limiter shares the table; api/rate-limits.ts gives each its own key prefix.
    child(): FastifyRateLimitStore {
      return new PostgresRateLimitStore();
    }
  }
  return PostgresRateLimitStore;
}
