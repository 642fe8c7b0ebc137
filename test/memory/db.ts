import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { connectDatabase, describeDatabaseUrl, type Db } from '../../lib/db/database.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../lib/db/embedded-postgres.js';
import { migrate } from '../../lib/db/migrate.js';
import type { Database } from '../../lib/db/schema.js';
import { createLogger } from '../../lib/logger.js';
import type { Embedder } from '../../lib/memory/embedder.js';
import { pseudoEmbedding } from '../fake-llm/embeddings.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/** Shared by the memory suites: PGlite always, and TEST_DATABASE_URL (with pgvector) when set. */
export interface Backend {
  name: string;
  url?: string;
}

export const backends: Backend[] = [{ name: 'embedded PGlite' }];
if (process.env.TEST_DATABASE_URL) backends.push({ name: `TEST_DATABASE_URL (${describeDatabaseUrl(process.env.TEST_DATABASE_URL)})`, url: process.env.TEST_DATABASE_URL });

export interface TestDb {
  db: Kysely<Database>;
  database: Db;
  close(): Promise<void>;
}

export async function openTestDb(backend: Backend): Promise<TestDb> {
  let embedded: EmbeddedPostgres | undefined;
  let dir: string | undefined;
  let server: TestDatabase | undefined;
  let url: string | undefined;
  if (backend.url) {
    // A database of this suite's own on the server, so parallel files never see each other's rows.
    server = await createTestDatabase(backend.url);
    url = server.url;
  }
  if (!url) {
    dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-memory-test-'));
    embedded = await startEmbeddedPostgres({ dataDir: dir, logger: createLogger('test', 'silent') });
    url = embedded.url;
  }
  // PGlite is a single session: one connection (as lib/runtime/database-runtime.ts does).
  const database = connectDatabase(url, embedded ? 1 : 4);
  await migrate(database.pool, { url });
  return {
    db: database.db,
    database,
    async close() {
      await database.close();
      await server?.drop();
      await embedded?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh agent row; ids are unique so a shared TEST_DATABASE_URL is fine. */
export async function createAgent(db: Kysely<Database>, prefix = 'mem'): Promise<string> {
  const id = `${prefix}-${randomUUID().slice(0, 8)}`;
  await db.insertInto('agents').values({ id, name: id }).execute();
  return id;
}

export async function removeAgent(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom('memory_edges').where('agent_id', '=', id).execute();
  await db.deleteFrom('memories').where('agent_id', '=', id).execute();
  await db.deleteFrom('memory_archive').where('agent_id', '=', id).execute();
  await db.deleteFrom('agents').where('id', '=', id).execute();
}

export const DIMS = 384;

/** A unit vector with the given components (index → value), normalised. */
export function vec(components: Record<number, number>): number[] {
  const v = new Array<number>(DIMS).fill(0);
  for (const [i, x] of Object.entries(components)) v[Number(i)] = x;
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / norm);
}

/** A unit vector at cosine `similarity` to basis vector `axis`, leaning towards basis vector `other`. */
export function at(similarity: number, axis: number, other: number): number[] {
  return vec({ [axis]: similarity, [other]: Math.sqrt(1 - similarity * similarity) });
}

export function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => {
    const y = b[i] ?? 0;
    dot += x * y;
    na += x * x;
    nb += y * y;
  });
  return dot / Math.sqrt(na * nb);
}

/** Crafted vectors for known texts; the fake LLM's pseudo-embedding for anything else. */
export class TableEmbedder implements Embedder {
  readonly dimensions: number;
  readonly table = new Map<string, number[]>();
  calls = 0;
  constructor(entries: Record<string, number[]> = {}, dimensions = DIMS) {
    this.dimensions = dimensions;
    for (const [text, v] of Object.entries(entries)) this.table.set(text, v);
  }
  set(text: string, v: number[]): this {
    this.table.set(text, v);
    return this;
  }
  async embed(texts: string[]): Promise<number[][]> {
    this.calls++;
    return texts.map((t) => this.table.get(t) ?? Array.from(pseudoEmbedding(t, this.dimensions)));
  }
}
