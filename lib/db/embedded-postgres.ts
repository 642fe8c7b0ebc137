import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { Logger } from '../logger.js';

export interface EmbeddedPostgres {
  /** A postgres:// URL for `pg`, so the app reaches PGlite exactly as it reaches a real server. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Runs PGlite (Postgres compiled to WASM) with pgvector, persisted under `<dataDir>/pglite`, and
 * serves it on a loopback port with the Postgres wire protocol. PGlite is single-session: the socket
 * server queues queries from all connections and keeps an open transaction on its own connection.
 */
export async function startEmbeddedPostgres(opts: { dataDir: string; port?: number; logger: Logger }): Promise<EmbeddedPostgres> {
  const dir = path.join(opts.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const db = await PGlite.create({ dataDir: dir, extensions: { vector } });
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: opts.port ?? 0, maxConnections: 64 });
  await server.start();
  const conn = server.getServerConn();
  opts.logger.info({ component: 'embedded-postgres', dir, listen: conn }, 'embedded PostgreSQL (PGlite + pgvector) ready');
  return {
    url: `postgres://postgres@${conn}/postgres?sslmode=disable`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
