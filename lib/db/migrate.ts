import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { describeDatabaseUrl } from './database.js';

import { MIGRATIONS_DIR } from '../paths.js';

export { MIGRATIONS_DIR };

/** Thrown when the server cannot provide pgvector; its message is the one line the user sees. */
export class PgvectorMissingError extends Error {
  override name = 'PgvectorMissingError';
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
}

// Any fixed number works; it only has to be the same in every Spacebot process.
const MIGRATION_LOCK_ID = 0x5ba_ceb0;

/**
 * Applies `migrations/NNN_name.sql` in name order, each in its own transaction, recording name and
 * checksum in schema_migrations. A changed checksum of an applied file is refused: migrations are
 * append-only. An advisory lock keeps a worker and an API starting together from racing.
 */
export async function migrate(pool: pg.Pool, opts: { dir?: string; url?: string } = {}): Promise<MigrationResult> {
  const dir = opts.dir ?? MIGRATIONS_DIR;
  const client = await pool.connect();
  try {
    await ensurePgvector(client, opts.url);
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Map(
      (await client.query<{ name: string; checksum: string }>('SELECT name, checksum FROM schema_migrations')).rows.map(
        (r) => [r.name, r.checksum] as const,
      ),
    );
    const result: MigrationResult = { applied: [], alreadyApplied: [] };
    for (const name of readdirSync(dir).filter((f) => /^\d+_.+\.sql$/.test(f)).sort()) {
      const sql = readFileSync(path.join(dir, name), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      const previous = done.get(name);
      if (previous !== undefined) {
        if (previous !== checksum) throw new Error(`migration ${name} was changed after it was applied; add a new migration instead`);
        result.alreadyApplied.push(name);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)', [name, checksum]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${name} failed: ${(err as Error).message}`, { cause: err });
      }
      result.applied.push(name);
    }
    return result;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    client.release();
  }
}

async function ensurePgvector(client: pg.PoolClient, url: string | undefined): Promise<void> {
  const { rows } = await client.query<{ installed: string | null }>(
    "SELECT installed_version AS installed FROM pg_available_extensions WHERE name = 'vector'",
  );
  if (rows.length === 0) {
    const where = url ? describeDatabaseUrl(url) : 'the database';
    throw new PgvectorMissingError(
      `PostgreSQL at ${where} has no pgvector extension: install it on that server (Debian/Ubuntu: apt install postgresql-<version>-pgvector; Docker: the pgvector/pgvector image) or unset DATABASE_URL to use the embedded database`,
    );
  }
}
