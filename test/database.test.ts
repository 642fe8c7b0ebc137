import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../lib/config/load.js';
import type { SpacebotConfig } from '../lib/config/types.js';
import { connectDatabase, describeDatabaseUrl } from '../lib/db/database.js';
import { startEmbeddedPostgres } from '../lib/db/embedded-postgres.js';
import { MIGRATIONS_DIR, migrate, PgvectorMissingError } from '../lib/db/migrate.js';
import { createLogger } from '../lib/logger.js';
import { openDatabase, type DatabaseRuntime } from '../lib/runtime/database-runtime.js';
import { startPgvectorLessPostgres, type PgvectorLessPostgres } from './helpers/pgvector-less-postgres.js';
import { createTestDatabase, type TestDatabase } from './helpers/test-database.js';

const logger = createLogger('test', 'silent');

const TABLES = ['agents', 'channels', 'messages', 'deliveries', 'context_entries', 'llm_calls', 'memories'];

/** Every test gets its own directory (cwd with spacebot.toml, and data dir below it); all removed at the end. */
const scratch = mkdtempSync(path.join(os.tmpdir(), 'spacebot-database-test-'));
let dirCount = 0;

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = path.join(scratch, `t-${dirCount++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Agent ids unique per test, so tests of one file never read each other's rows. */
function agentId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A config for `cwd` with the given agents, its data dir at <cwd>/data, and DATABASE_URL only when given. */
function configFor(cwd: string, agents: { id: string; name: string }[], databaseUrl?: string): SpacebotConfig {
  const toml = agents.map((a) => `[[agents]]\nid = "${a.id}"\nname = "${a.name}"\n`).join('\n');
  writeFileSync(path.join(cwd, 'spacebot.toml'), toml);
  const env: NodeJS.ProcessEnv = { SPACEBOT_DATA_DIR: path.join(cwd, 'data') };
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  return loadConfig({ env, cwd });
}

async function agentRows(database: DatabaseRuntime, ids: string[]): Promise<{ id: string; name: string }[]> {
  return database.db.selectFrom('agents').select(['id', 'name']).where('id', 'in', ids).orderBy('id').execute();
}

interface Backend {
  name: string;
  /** The server of TEST_DATABASE_URL; undefined: no DATABASE_URL, so openDatabase starts embedded PGlite. */
  server?: string;
  /** On the server: the fresh database of the running test (beforeEach), dropped after it. */
  url?: string;
}

const backends: Backend[] = [{ name: 'embedded PGlite' }];
const testDatabaseUrl = process.env.TEST_DATABASE_URL;
if (testDatabaseUrl) backends.push({ name: `TEST_DATABASE_URL (${describeDatabaseUrl(testDatabaseUrl)})`, server: testDatabaseUrl });

/** Gives every test on the server backend an empty database of its own, so it sees a first start there. */
function freshDatabasePerTest(backend: Backend): void {
  let fresh: TestDatabase | undefined;
  beforeEach(async () => {
    if (!backend.server) return;
    fresh = await createTestDatabase(backend.server);
    backend.url = fresh.url;
  });
  afterEach(async () => {
    await fresh?.drop();
    fresh = undefined;
    backend.url = undefined;
  });
}

describe.each(backends)('openDatabase on $name', (backend) => {
  freshDatabasePerTest(backend);

  it('applies 001_init.sql, creates the tables and upserts the configured agents', async () => {
    const cwd = freshDir();
    const agents = [
      { id: agentId('alpha'), name: 'Alpha' },
      { id: agentId('beta'), name: 'Beta' },
    ];
    const config = configFor(cwd, agents, backend.url);
    const database = await openDatabase(config, logger);
    try {
      if (backend.url) {
        expect(database.embedded).toBe(false);
        expect(database.url).toBe(backend.url);
        expect(existsSync(path.join(config.dataDir, 'pglite'))).toBe(false);
      } else {
        expect(database.embedded).toBe(true);
        expect(database.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\//);
        expect(existsSync(path.join(config.dataDir, 'pglite', 'PG_VERSION'))).toBe(true);
      }
      // Every migration of migrations/, in order (001_init first; later ones such as 003_heartbeats on top).
      expect(database.migrations).toEqual({ applied: readdirSync(MIGRATIONS_DIR).filter((f) => /^\d+_.+\.sql$/.test(f)).sort(), alreadyApplied: [] });
      expect(database.migrations.applied[0]).toBe('001_init.sql');

      const { rows: tables } = await database.pool.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables
          WHERE table_schema = current_schema() AND table_name = ANY($1) ORDER BY table_name`,
        [TABLES],
      );
      expect(tables.map((t) => t.table_name)).toEqual([...TABLES].sort());

      expect(await agentRows(database, agents.map((a) => a.id))).toEqual([...agents].sort((a, b) => a.id.localeCompare(b.id)));
    } finally {
      await database.close();
    }
  });

  it('has pgvector: cosine distance works and memories.embedding has an HNSW index', async () => {
    const cwd = freshDir();
    const agent = { id: agentId('vec'), name: 'Vec' };
    const database = await openDatabase(configFor(cwd, [agent], backend.url), logger);
    try {
      const { rows } = await database.pool.query<{ distance: number }>(
        "SELECT '[1,2,3]'::vector <=> '[1,2,4]'::vector AS distance",
      );
      // 1 - (1*1 + 2*2 + 3*4) / (|[1,2,3]| * |[1,2,4]|)
      expect(rows[0]?.distance).toBeCloseTo(1 - 17 / Math.sqrt(14 * 21), 6);

      const { rows: indexes } = await database.pool.query<{ indexdef: string }>(
        `SELECT indexdef FROM pg_indexes
          WHERE schemaname = current_schema() AND tablename = 'memories' AND indexdef LIKE '%USING hnsw%'`,
      );
      expect(indexes).toHaveLength(1);
      expect(indexes[0]?.indexdef).toMatch(/USING hnsw \(embedding vector_cosine_ops\)/);

      // The column takes 384-dimension embeddings and nearest-neighbour order follows cosine distance.
      const unit = (hot: number) => `[${Array.from({ length: 384 }, (_, i) => (i === hot ? 1 : 0)).join(',')}]`;
      const near = randomUUID();
      const far = randomUUID();
      await database.pool.query(
        `INSERT INTO memories (id, agent_id, content, type, importance, embedding)
         VALUES ($1, $3, 'near', 'fact', 0.5, $4::vector), ($2, $3, 'far', 'fact', 0.5, $5::vector)`,
        [near, far, agent.id, unit(0), unit(1)],
      );
      const { rows: nearest } = await database.pool.query<{ id: string }>(
        'SELECT id FROM memories WHERE agent_id = $1 ORDER BY embedding <=> $2::vector LIMIT 2',
        [agent.id, unit(0)],
      );
      expect(nearest.map((r) => r.id)).toEqual([near, far]);
    } finally {
      await database.close();
    }
  });

  it('applies migrations once and keeps data across close and reopen', async () => {
    const cwd = freshDir();
    const configured = { id: agentId('kept'), name: 'Before' };
    const inserted = { id: agentId('extra'), name: 'Inserted by hand' };

    const first = await openDatabase(configFor(cwd, [configured], backend.url), logger);
    try {
      await first.db.insertInto('agents').values(inserted).execute();
    } finally {
      await first.close();
    }
    expect(first.pool.ended).toBe(true);

    // Same data dir (or server); the configured agent is renamed in the file.
    const second = await openDatabase(configFor(cwd, [{ ...configured, name: 'After' }], backend.url), logger);
    try {
      expect(second.migrations.applied).toEqual([]);
      expect(second.migrations.alreadyApplied).toContain('001_init.sql');
      expect(await agentRows(second, [configured.id, inserted.id])).toEqual(
        [{ ...configured, name: 'After' }, inserted].sort((a, b) => a.id.localeCompare(b.id)),
      );
    } finally {
      await second.close();
    }
  });
});

describe.each(backends)('migrate() with its own migrations dir on $name', (backend) => {
  /** Runs `fn` against a fresh database (PGlite in its own data dir, or one of its own on the server), with `dir` as an empty migrations dir. */
  async function withFreshPool(fn: (pool: pg.Pool, dir: string) => Promise<void>): Promise<void> {
    const base = freshDir();
    const dir = path.join(base, 'migrations');
    mkdirSync(dir);
    const onServer = backend.server ? await createTestDatabase(backend.server) : undefined;
    const embedded = onServer?.url ? undefined : await startEmbeddedPostgres({ dataDir: path.join(base, 'data'), logger });
    const database = connectDatabase(onServer?.url ?? (embedded as { url: string }).url, 2);
    try {
      await fn(database.pool, dir);
    } finally {
      await database.close();
      await embedded?.stop();
      await onServer?.drop();
    }
    // Only `pool` was used, never Kysely: close() must still end the pool, or its idle client lingers.
    expect(database.pool.ended).toBe(true);
  }

  async function tableExists(pool: pg.Pool, name: string): Promise<boolean> {
    const { rows } = await pool.query<{ oid: string | null }>('SELECT to_regclass($1)::text AS oid', [name]);
    return rows[0]?.oid !== null;
  }

  it('refuses a migration whose checksum changed after it was applied', async () => {
    await withFreshPool(async (pool, dir) => {
      const file = path.join(dir, '001_first.sql');
      writeFileSync(file, 'CREATE TABLE first_table (id integer);\n');
      expect(await migrate(pool, { dir })).toEqual({ applied: ['001_first.sql'], alreadyApplied: [] });
      expect(await migrate(pool, { dir })).toEqual({ applied: [], alreadyApplied: ['001_first.sql'] });

      writeFileSync(file, 'CREATE TABLE first_table (id bigint);\n');
      await expect(migrate(pool, { dir })).rejects.toThrow(/migration 001_first\.sql was changed after it was applied/);
    });
  });

  it('rolls back a failing migration and names its file', async () => {
    await withFreshPool(async (pool, dir) => {
      writeFileSync(path.join(dir, '001_ok.sql'), 'CREATE TABLE ok_table (id integer);\n');
      const broken = path.join(dir, '002_broken.sql');
      writeFileSync(broken, 'CREATE TABLE broken_table (id integer);\nINSERT INTO broken_table VALUES (1);\nSELECT 1 / 0;\n');

      await expect(migrate(pool, { dir })).rejects.toThrow(/migration 002_broken\.sql failed: division by zero/);

      expect(await tableExists(pool, 'ok_table')).toBe(true);
      expect(await tableExists(pool, 'broken_table')).toBe(false);
      const { rows } = await pool.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name');
      expect(rows.map((r) => r.name)).toEqual(['001_ok.sql']);

      // Nothing of the failed attempt was recorded: once fixed, it applies normally.
      writeFileSync(broken, 'CREATE TABLE broken_table (id integer);\n');
      expect(await migrate(pool, { dir })).toEqual({ applied: ['002_broken.sql'], alreadyApplied: ['001_ok.sql'] });
      expect(await tableExists(pool, 'broken_table')).toBe(true);
    });
  });
});

describe('openDatabase on a PostgreSQL server without pgvector', () => {
  // Not the machine's server: CI installs pgvector there (see helpers/pgvector-less-postgres.ts).
  let pgvectorLess: PgvectorLessPostgres;
  beforeAll(async () => {
    pgvectorLess = await startPgvectorLessPostgres();
  });
  afterAll(async () => {
    await pgvectorLess?.stop();
  });

  /** Fails loudly (never skips) when the server turns out to have pgvector after all. */
  async function requirePgvectorLessServer(url: string): Promise<void> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      const { rows } = await client.query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'");
      if (rows.length > 0) throw new Error(`PostgreSQL at ${describeDatabaseUrl(url)} has pgvector available; this test needs a server without it`);
    } finally {
      await client.end();
    }
  }

  it('rejects with a one-line PgvectorMissingError naming the server and the fix', async () => {
    const url = pgvectorLess.url;
    const parsed = new URL(url);
    const server = `${parsed.hostname}:${parsed.port || '5432'}`;
    await requirePgvectorLessServer(url);
    const cwd = freshDir();
    const config = configFor(cwd, [{ id: agentId('nope'), name: 'Nope' }], url);

    let error: unknown;
    try {
      const database = await openDatabase(config, logger);
      await database.close();
    } catch (err) {
      error = err;
    }

    expect(error).toBeInstanceOf(PgvectorMissingError);
    const { message } = error as PgvectorMissingError;
    expect(message).not.toContain('\n');
    expect(message).toContain(server);
    expect(message).toMatch(/pgvector/);
    expect(message).toMatch(/install/);
    expect(message).toContain('DATABASE_URL');
    if (parsed.password) expect(message).not.toContain(parsed.password);
    // It did not fall back to the embedded database behind the user's back.
    expect(existsSync(path.join(config.dataDir, 'pglite'))).toBe(false);
  });
});
