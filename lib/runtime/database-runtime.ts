import { sql } from 'kysely';
import type { SpacebotConfig } from '../config/types.js';
import { connectDatabase, type Db } from '../db/database.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../db/embedded-postgres.js';
import { migrate, type MigrationResult } from '../db/migrate.js';
import type { Logger } from '../logger.js';

export interface DatabaseRuntime extends Db {
  url: string;
  embedded: boolean;
  migrations: MigrationResult;
}

/**
 * Opens the database the config names (or starts the embedded one), applies migrations, and makes
 * sure every configured agent has its row. Everything after this speaks plain Postgres through `pg`.
 */
export async function openDatabase(config: SpacebotConfig, logger: Logger): Promise<DatabaseRuntime> {
  let embedded: EmbeddedPostgres | undefined;
  let url = config.database.url;
  if (!url) {
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, logger });
    url = embedded.url;
  }
  // PGlite is one Postgres session behind its socket server, which interleaves the extended-protocol
  // messages of concurrent connections ("bind message supplies 8 parameters, but prepared statement
  // requires 4" under load). One connection per process keeps every query whole; PGlite runs queries
  // one at a time anyway, so nothing is lost.
  const poolSize = embedded ? 1 : config.database.poolSize;
  const db = connectDatabase(url, poolSize);
  const close = async () => {
    await db.close();
    await embedded?.stop();
  };
  try {
    const migrations = await migrate(db.pool, { url });
    if (migrations.applied.length) logger.info({ applied: migrations.applied }, 'database migrated');
    await upsertAgents(db, config);
    return { ...db, url, embedded: Boolean(embedded), migrations, close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function upsertAgents(db: Db, config: SpacebotConfig): Promise<void> {
  for (const agent of config.agents) {
    await db.db
      .insertInto('agents')
      .values({ id: agent.id, name: agent.name })
      .onConflict((oc) => oc.column('id').doUpdateSet({ name: agent.name, updated_at: sql`now()` }))
      .execute();
  }
}
