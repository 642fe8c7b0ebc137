import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describeDatabaseUrl } from '../../lib/db/database.js';

/**
 * Per-test-file (and per-harness) databases on the PostgreSQL server TEST_DATABASE_URL names.
 *
 * Jest runs two files at a time, CI runs the suite on a server other runs may have used before, and
 * several tests count rows or reuse fixed ids ("main"): sharing one database makes them collide. So
 * every user of TEST_DATABASE_URL gets a database of its own, created from template1 (where the
 * migrations create pgvector) and dropped when it is done. Without TEST_DATABASE_URL the tests use
 * the embedded PGlite, and these helpers hand back no URL.
 */

/**
 * Every database these helpers create is named spacebot_test_[<run>_]<random>: <run> is
 * SPACEBOT_TEST_RUN (set by .ci/run, which drops what a crashed file of its run left behind).
 */
function databaseName(): string {
  const run = (process.env.SPACEBOT_TEST_RUN ?? '').toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 24);
  return `spacebot_test_${run ? `${run}_` : ''}${randomBytes(6).toString('hex')}`;
}

export interface TestDatabase {
  /** postgres:// URL of the fresh database; undefined when TEST_DATABASE_URL is unset (use PGlite). */
  url: string | undefined;
  /** Drops the database (closing any connection still open on it). Safe to call twice. */
  drop(): Promise<void>;
}

/** The server's URL with another database name in its path (credentials and options kept). */
function withDatabase(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function onServer<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  // Generous: the timer counts while PGlite or a worker bundle starves this process's event loop; an
  // absent server refuses the connection at once anyway.
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 60_000 });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    // Never fall back to PGlite: a run meant for the server must fail when it cannot reach it.
    const server = describeDatabaseUrl(serverUrl).replace(/\/.*$/, '');
    throw new Error(`the tests' PostgreSQL server at ${server} cannot be reached: ${(err as Error).message}`, { cause: err });
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A fresh, empty database on the server of `serverUrl` (default TEST_DATABASE_URL). The name is
 * random, so parallel files and the leftovers of earlier runs never meet.
 */
export async function createTestDatabase(serverUrl: string | undefined = process.env.TEST_DATABASE_URL): Promise<TestDatabase> {
  if (!serverUrl) return { url: undefined, drop: async () => undefined };
  const name = databaseName();
  // The name is ours ([a-z0-9_]), so quoting it is enough; CREATE DATABASE takes no parameters.
  await onServer(serverUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
  let dropped = false;
  return {
    url: withDatabase(serverUrl, name),
    async drop() {
      if (dropped) return;
      dropped = true;
      // FORCE (PostgreSQL 13+): a pool a failed test left open must not keep the database alive.
      await onServer(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}
