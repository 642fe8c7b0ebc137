import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * A PostgreSQL server without pgvector, for the clear error a user gets when theirs lacks it.
 *
 * The machine's PostgreSQL cannot serve here: CI installs pgvector into it (.ci/run), after which
 * every database there lists `vector` in pg_available_extensions. PGlite started without the vector
 * extension has no `vector` at all, and behind its socket server the app reaches it over the wire
 * protocol exactly as it would reach a real server. PGVECTOR_LESS_DATABASE_URL points the tests at
 * another such server instead (then nothing is started here).
 */
export interface PgvectorLessPostgres {
  url: string;
  stop(): Promise<void>;
}

export async function startPgvectorLessPostgres(): Promise<PgvectorLessPostgres> {
  const given = process.env.PGVECTOR_LESS_DATABASE_URL;
  if (given) return { url: given, stop: async () => undefined };
  // In memory: nothing is ever migrated into it, the first check refuses.
  const db = await PGlite.create();
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0 });
  await server.start();
  return {
    url: `postgres://postgres@${server.getServerConn()}/postgres?sslmode=disable`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
