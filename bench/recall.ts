/**
 * `npm run bench:recall [-- --sizes 10000,100000] [-- --queries 200]`: hybrid recall latency (vector
 * kNN + full text + graph walk, fused by RRF; lib/memory/recall.ts) beside a plain pgvector kNN query
 * on the same data, measured in the same run, at each size. The result is the ratio of the p50s (and
 * p99s): the target is hybrid ≤ 3× plain kNN. Runs on a fresh embedded PGlite, and also on
 * TEST_DATABASE_URL when it is set (a Postgres with pgvector; the bench's agent is removed after).
 *
 * Data: 384-d vectors drawn around 200 topic centroids (unit vectors plus noise), with sentence-like
 * text built from each topic's words, and a few `related_to` edges per topic, so all three signals
 * have work to do. Queries are new points near a random centroid, with two of its words as text.
 *
 * Loading: batched INSERT … SELECT FROM unnest(…) of 1,000 rows. On the bench's own PGlite the HNSW
 * index is dropped for the load and rebuilt after it (an index build is far faster than 100k
 * incremental inserts); on TEST_DATABASE_URL the index is left alone.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { connectDatabase, describeDatabaseUrl } from '../lib/db/database.js';
import { startEmbeddedPostgres } from '../lib/db/embedded-postgres.js';
import { migrate } from '../lib/db/migrate.js';
import type { Database } from '../lib/db/schema.js';
import { createLogger } from '../lib/logger.js';
import type { Embedder } from '../lib/memory/embedder.js';
import { MEMORY_TYPES } from '../lib/memory/model.js';
import { recall } from '../lib/memory/recall.js';
import { seededRandom } from '../lib/seeded-random.js';
import { percentile } from './percentile.js';

const DIMS = 384;
const TOPICS = 200;
const WORDS_PER_TOPIC = 12;

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return (i >= 0 ? process.argv[i + 1] : undefined) ?? fallback;
}
const sizes = option('sizes', '10000,100000').split(',').map(Number).filter((n) => n > 0);
const queries = Number(option('queries', '200'));
/** Queries run first and not counted, so both queries meet warm caches and kept plans. */
const WARMUP = Number(option('warmup', '50'));

/** Seeded, so every run builds the same data. */
const random = seededRandom(42);
const gaussian = () => Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
const normalise = (v: number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const centroids = Array.from({ length: TOPICS }, () => normalise(Array.from({ length: DIMS }, gaussian)));
const near = (c: number[], spread: number) => normalise(c.map((x) => x + gaussian() * spread));
const syllables = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'ze', 'po', 'qui', 'dra'];
const topicWords = Array.from({ length: TOPICS }, (_, t) =>
  Array.from({ length: WORDS_PER_TOPIC }, (_, w) => `${syllables[t % 12]}${syllables[Math.floor(t / 12) % 12]}${syllables[w]}${t}`),
);
const filler = ['the', 'user', 'mentioned', 'that', 'we', 'should', 'remember', 'about', 'project', 'meeting', 'prefers', 'next', 'week'];
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
function sentence(topic: number): string {
  const words = topicWords[topic] ?? [];
  return Array.from({ length: 14 }, (_, i) => (i % 3 === 1 ? pick(words) : pick(filler))).join(' ');
}
const literal = (v: number[]) => `[${v.map((x) => x.toFixed(6)).join(',')}]`;

async function load(db: Kysely<Database>, agentId: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  const BATCH = 1000;
  for (let start = 0; start < n; start += BATCH) {
    const rows = Array.from({ length: Math.min(BATCH, n - start) }, () => {
      const topic = Math.floor(random() * TOPICS);
      return { id: randomUUID(), topic, content: sentence(topic), type: pick(MEMORY_TYPES), importance: random(), embedding: literal(near(centroids[topic] ?? [], 0.04)) };
    });
    await sql`
      INSERT INTO memories (id, agent_id, content, type, importance, embedding)
      SELECT id, ${agentId}, content, type, importance, embedding::vector
        FROM unnest(${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => r.content)}::text[], ${rows.map((r) => r.type)}::text[],
                    ${rows.map((r) => r.importance)}::real[], ${rows.map((r) => r.embedding)}::text[]) AS t(id, content, type, importance, embedding)`.execute(db);
    ids.push(...rows.map((r) => r.id));
  }
  // A few related_to edges between neighbours in load order, for the graph walk.
  const edges = ids.slice(1, Math.min(ids.length, 20_000)).map((id, i) => ({ from: ids[i] as string, to: id }));
  for (let start = 0; start < edges.length; start += 5000) {
    const chunk = edges.slice(start, start + 5000);
    await sql`
      INSERT INTO memory_edges (agent_id, from_id, to_id, type, weight)
      SELECT ${agentId}, f, t, 'related_to', 0.9 FROM unnest(${chunk.map((e) => e.from)}::uuid[], ${chunk.map((e) => e.to)}::uuid[]) AS x(f, t)
      ON CONFLICT DO NOTHING`.execute(db);
  }
  return ids;
}

function percentiles(xs: number[]): { p50: number; p99: number } {
  return { p50: percentile(xs, 50), p99: percentile(xs, 99) };
}

interface Timing {
  /** Wall-clock milliseconds. */
  wall: number;
  /** Milliseconds of CPU used by this process (user + system), embedded PGlite included. */
  cpu: number;
}

/**
 * Wall time, and CPU time of this process. With the embedded PGlite the database runs in this
 * process, so the CPU time is the query's whole cost — a figure the other processes of a busy
 * machine do not inflate, unlike wall time, where a longer query is preempted more often.
 */
async function timed(run: () => Promise<unknown>): Promise<Timing> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wall, cpu: (cpu.user + cpu.system) / 1000 };
}

interface Row {
  backend: string;
  memories: number;
  loadSeconds: number;
  knn: { p50: number; p99: number };
  hybrid: { p50: number; p99: number };
  ratioP50: number;
  ratioP99: number;
  /** Embedded PGlite only: CPU time per query (see timed()). */
  cpu?: { knn: { p50: number; p99: number }; hybrid: { p50: number; p99: number }; ratioP50: number; ratioP99: number };
}

async function measure(backend: string, url: string, ownDatabase: boolean, n: number): Promise<Row> {
  const database = connectDatabase(url, 1);
  const db = database.db;
  const agentId = `bench-recall-${randomUUID().slice(0, 8)}`;
  try {
    await migrate(database.pool, { url });
    await db.insertInto('agents').values({ id: agentId, name: agentId }).execute();
    const loadStart = performance.now();
    if (ownDatabase) await sql`DROP INDEX IF EXISTS memories_embedding_idx`.execute(db);
    await load(db, agentId, n);
    if (ownDatabase) await sql`CREATE INDEX memories_embedding_idx ON memories USING hnsw (embedding vector_cosine_ops)`.execute(db);
    await sql`ANALYZE memories`.execute(db);
    const loadSeconds = (performance.now() - loadStart) / 1000;

    const qs = Array.from({ length: queries + WARMUP }, () => {
      const topic = Math.floor(random() * TOPICS);
      const words = topicWords[topic] ?? [];
      return { text: `${pick(words)} ${pick(words)} notes`, vector: near(centroids[topic] ?? [], 0.06) };
    });
    const byText = new Map(qs.map((q) => [q.text, q.vector]));
    const embedder: Embedder = { dimensions: DIMS, embed: async (texts) => texts.map((t) => byText.get(t) ?? (qs[0]?.vector as number[])) };
    const knnTimes: number[] = [];
    const hybridTimes: number[] = [];
    const knnCpu: number[] = [];
    const hybridCpu: number[] = [];
    for (const [i, q] of qs.entries()) {
      // Alternate the order so neither query systematically runs on a warmer cache.
      const runKnn = () => timed(() => sql`SELECT id FROM memories WHERE agent_id = ${agentId} ORDER BY embedding <=> ${literal(q.vector)}::vector LIMIT 10`.execute(db));
      const runHybrid = () => timed(() => recall(db, embedder, agentId, { query: q.text, limit: 10, touch: false }));
      let knn: Timing;
      let hybrid: Timing;
      if (i % 2) {
        knn = await runKnn();
        hybrid = await runHybrid();
      } else {
        hybrid = await runHybrid();
        knn = await runKnn();
      }
      if (i >= WARMUP) {
        knnTimes.push(knn.wall);
        hybridTimes.push(hybrid.wall);
        knnCpu.push(knn.cpu);
        hybridCpu.push(hybrid.cpu);
      }
    }
    const knn = percentiles(knnTimes);
    const hybrid = percentiles(hybridTimes);
    const row: Row = { backend, memories: n, loadSeconds, knn, hybrid, ratioP50: hybrid.p50 / knn.p50, ratioP99: hybrid.p99 / knn.p99 };
    if (ownDatabase) {
      const knnCpuP = percentiles(knnCpu);
      const hybridCpuP = percentiles(hybridCpu);
      row.cpu = { knn: knnCpuP, hybrid: hybridCpuP, ratioP50: hybridCpuP.p50 / knnCpuP.p50, ratioP99: hybridCpuP.p99 / knnCpuP.p99 };
    }
    return row;
  } finally {
    await db.deleteFrom('memory_edges').where('agent_id', '=', agentId).execute().catch(() => undefined);
    await db.deleteFrom('memories').where('agent_id', '=', agentId).execute().catch(() => undefined);
    await db.deleteFrom('agents').where('id', '=', agentId).execute().catch(() => undefined);
    await database.close();
  }
}

const ms = (x: number) => `${x.toFixed(2)} ms`;
function report(r: Row): Row {
  process.stdout.write(
    `${r.backend}, ${r.memories} memories (loaded in ${r.loadSeconds.toFixed(1)} s): kNN p50 ${ms(r.knn.p50)} p99 ${ms(r.knn.p99)}; ` +
      `hybrid p50 ${ms(r.hybrid.p50)} p99 ${ms(r.hybrid.p99)}; ratio p50 ${r.ratioP50.toFixed(2)}× p99 ${r.ratioP99.toFixed(2)}× (target ≤ 3×)\n` +
      (r.cpu
        ? `  CPU time per query: kNN p50 ${ms(r.cpu.knn.p50)} p99 ${ms(r.cpu.knn.p99)}; hybrid p50 ${ms(r.cpu.hybrid.p50)} p99 ${ms(r.cpu.hybrid.p99)}; ` +
          `ratio p50 ${r.cpu.ratioP50.toFixed(2)}× p99 ${r.cpu.ratioP99.toFixed(2)}×\n`
        : ''),
  );
  return r;
}

const rows: Row[] = [];
for (const n of sizes) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-bench-recall-'));
  const embedded = await startEmbeddedPostgres({ dataDir: dir, logger: createLogger('bench', 'silent') });
  try {
    rows.push(report(await measure('embedded PGlite', embedded.url, true, n)));
  } finally {
    await embedded.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  if (process.env.TEST_DATABASE_URL) rows.push(report(await measure(describeDatabaseUrl(process.env.TEST_DATABASE_URL), process.env.TEST_DATABASE_URL, false, n)));
}
process.stdout.write(`${JSON.stringify({ queries, warmup: WARMUP, rows }, null, 2)}\n`);
