import pg from 'pg';
import { connectDatabase } from '../lib/db/database.js';
import { migrate } from '../lib/db/migrate.js';
import { createHarness } from './helpers/harness.js';
import { createTestDatabase } from './helpers/test-database.js';

/**
 * The isolation the suite relies on when it runs against a real PostgreSQL (TEST_DATABASE_URL): each
 * test file and harness gets a database of its own on the server, which nobody else sees and which
 * is gone afterwards. On TEST_DATABASE_URL's server, else the machine's 127.0.0.1:5432 (CI runs
 * PostgreSQL 15 there); an unreachable server fails the test, never skips it.
 */
const serverUrl = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 60_000 });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return rows.length === 1;
  } finally {
    await client.end();
  }
}

const nameOf = (url: string | undefined) => decodeURIComponent(new URL(url as string).pathname.slice(1));

test('two test databases are separate, empty, migrate on their own, and are gone once dropped (open connections too)', async () => {
  const one = await createTestDatabase(serverUrl);
  const two = await createTestDatabase(serverUrl);
  const a = connectDatabase(one.url as string, 2);
  const b = connectDatabase(two.url as string, 2);
  try {
    expect(nameOf(one.url)).toMatch(/^spacebot_test_[a-z0-9_]+$/);
    expect(nameOf(one.url)).not.toBe(nameOf(two.url));
    expect(await databaseExists(nameOf(one.url))).toBe(true);

    // Fresh: no schema of an earlier run. Migrating one leaves the other untouched.
    const tables = async (db: typeof a) => (await db.pool.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'agents'")).rows.length;
    expect(await tables(a)).toBe(0);
    expect((await migrate(a.pool, { url: one.url as string })).applied[0]).toBe('001_init.sql');
    await a.pool.query("INSERT INTO agents (id, name) VALUES ('main', 'main')");
    expect(await tables(a)).toBe(1);
    expect(await tables(b)).toBe(0);

    // Dropped although `a` still holds a connection: a test that failed before closing its pool
    // must not leave its database behind.
    await one.drop();
    await one.drop();
    expect(await databaseExists(nameOf(one.url))).toBe(false);
  } finally {
    await a.close().catch(() => undefined);
    await b.close();
    await one.drop();
    await two.drop();
  }
  expect(await databaseExists(nameOf(two.url))).toBe(false);
}, 180_000);

test('without a server URL there is no database to create: the tests use the embedded PGlite', async () => {
  const none = await createTestDatabase('');
  expect(none.url).toBeUndefined();
  await none.drop();
});

test('a harness whose setup fails drops the database it had created', async () => {
  const saved = { run: process.env.SPACEBOT_TEST_RUN, url: process.env.TEST_DATABASE_URL };
  // A run name of this test's own, so the check sees only the databases this harness made.
  const run = `undo${Date.now().toString(36)}`;
  process.env.SPACEBOT_TEST_RUN = run;
  process.env.TEST_DATABASE_URL = serverUrl;
  try {
    // The config is refused after the database was created.
    await expect(createHarness({ toml: '[worker]\nbackground_slots = 0\n' })).rejects.toThrow(/background_slots/);
  } finally {
    process.env.SPACEBOT_TEST_RUN = saved.run;
    process.env.TEST_DATABASE_URL = saved.url;
    if (saved.run === undefined) delete process.env.SPACEBOT_TEST_RUN;
    if (saved.url === undefined) delete process.env.TEST_DATABASE_URL;
  }
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 60_000 });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT datname FROM pg_database WHERE datname LIKE $1', [`spacebot_test_${run}_%`]);
    expect(rows).toEqual([]);
  } finally {
    await client.end();
  }
}, 120_000);
