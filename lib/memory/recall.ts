import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/schema.js';
import { embedChecked, vectorLiteral, type Embedder } from './embedder.js';
import { EDGE_MULTIPLIERS, isEdgeType, MemoryInputError, type EdgeType, type Memory, type MemoryType, type RecallContext } from './model.js';
import { hasEmbedding, MEMORY_COLUMNS, toMemory } from './store.js';

export const RECALL_MODES = ['hybrid', 'recent', 'important', 'typed'] as const;
export type RecallMode = (typeof RECALL_MODES)[number];
export type RecallSignal = 'vector' | 'text' | 'graph';

export interface RecallOptions {
  /** Required for `hybrid`; in the other modes it narrows to full-text matches when given. */
  query?: string;
  mode?: RecallMode;
  types?: MemoryType[];
  /** Whose user and chat memories are visible (agent-wide ones always are). */
  context?: RecallContext;
  limit?: number;
  /** Reciprocal rank fusion constant. */
  rrfK?: number;
  /** Vector candidates below this cosine similarity are not matches (default 0.1). */
  minSimilarity?: number;
  /** Candidates taken from each of vector and text search. */
  candidates?: number;
  /** Best fused vector+text results the graph walk starts from. */
  seeds?: number;
  /** Graph walk depth. */
  hops?: number;
  /** Bump last_accessed_at and access_count of returned memories (default true). */
  touch?: boolean;
}

export interface RecallHit {
  memory: Memory;
  /** Fused RRF score in hybrid mode; the ordering key (importance, recency as epoch ms) otherwise. */
  score: number;
  signals: {
    vector?: { rank: number; similarity: number };
    text?: { rank: number; score: number };
    graph?: { rank: number; score: number; from: string; edge: EdgeType; hops: number };
  };
}

export interface RecallResult {
  mode: RecallMode;
  /** Signals that were available for this recall (no `vector` without an embedder). */
  signalsUsed: RecallSignal[];
  results: RecallHit[];
}

/** Each hop multiplies the walk's strength by the edge's type multiplier, its weight, and this. */
const HOP_DAMPING = 0.5;

/** SQL: the memory is visible to a recall in `ctx` (agent-wide, this user's, this chat's). */
function visible(ctx: RecallContext | undefined): RawBuilder<boolean> {
  const parts = [sql`memories.scope_kind = 'agent'`];
  if (ctx?.userId) parts.push(sql`(memories.scope_kind = 'user' AND memories.scope_id = ${ctx.userId})`);
  if (ctx?.chatId) parts.push(sql`(memories.scope_kind = 'chat' AND memories.scope_id = ${ctx.chatId})`);
  return sql<boolean>`(${sql.join(parts, sql` OR `)})`;
}

function typeFilter(types: MemoryType[] | undefined): RawBuilder<boolean> {
  return types?.length ? sql<boolean>`memories.type = ANY(${types}::text[])` : sql<boolean>`true`;
}

/** The query's words joined by `or` for websearch_to_tsquery: any word matches, more words rank higher. */
export function textQuery(query: string): string | null {
  const words = (query.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => w !== 'or' && w !== 'and');
  return words.length ? words.join(' or ') : null;
}

interface Ranked {
  id: string;
  value: number;
}

/**
 * Reciprocal rank fusion: sum over lists of weight / (k + rank), rank from 1. A list is ids (weight 1)
 * or [id, weight] pairs; the graph list uses its walk strength (< 1) as the weight, so a memory found
 * only through an edge never outranks one that matched the query directly at the same rank.
 */
export function reciprocalRankFusion(lists: readonly (readonly (string | readonly [string, number])[])[], k = 60): Map<string, number> {
  const scores = new Map<string, number>();
  for (const list of lists) {
    list.forEach((item, i) => {
      const [id, weight] = typeof item === 'string' ? [item, 1] : item;
      scores.set(id, (scores.get(id) ?? 0) + weight / (k + i + 1));
    });
  }
  return scores;
}

async function vectorCandidates(db: Kysely<Database>, agentId: string, vector: string, opts: RecallOptions, limit: number): Promise<Ranked[]> {
  return db.transaction().execute(async (trx) => {
    // A filtered HNSW scan returns at most ef_search rows before filtering; widen it past the limit.
    await sql`SET LOCAL hnsw.ef_search = ${sql.lit(Math.max(100, limit * 4))}`.execute(trx);
    const { rows } = await sql<{ id: string; distance: number }>`
      SELECT memories.id, memories.embedding <=> ${vector}::vector AS distance
        FROM memories
       WHERE memories.agent_id = ${agentId} AND memories.embedding IS NOT NULL
         AND ${visible(opts.context)} AND ${typeFilter(opts.types)}
       ORDER BY memories.embedding <=> ${vector}::vector
       LIMIT ${limit}`.execute(trx);
    return rows.map((r) => ({ id: r.id, value: 1 - Number(r.distance) })).filter((r) => r.value >= (opts.minSimilarity ?? 0.1));
  });
}

async function textCandidates(db: Kysely<Database>, agentId: string, tsQuery: string, opts: RecallOptions, limit: number): Promise<Ranked[]> {
  const { rows } = await sql<{ id: string; rank: number }>`
    SELECT memories.id, ts_rank(memories.tsv, q) AS rank
      FROM memories, websearch_to_tsquery('english', ${tsQuery}) AS q
     WHERE memories.agent_id = ${agentId} AND memories.tsv @@ q
       AND ${visible(opts.context)} AND ${typeFilter(opts.types)}
     ORDER BY rank DESC, memories.updated_at DESC, memories.id
     LIMIT ${limit}`.execute(db);
  return rows.map((r) => ({ id: r.id, value: Number(r.rank) }));
}

interface Reached {
  id: string;
  strength: number;
  from: string;
  edge: EdgeType;
  hops: number;
}

/**
 * Walks edges (both directions) from the seeds, up to `hops`, through visible memories only.
 * strength(next) = strength(node) * multiplier(edge type) * edge weight * HOP_DAMPING; seeds start at
 * their fused score relative to the best seed. Keeps each memory's strongest path.
 */
async function graphWalk(db: Kysely<Database>, agentId: string, seeds: Map<string, number>, opts: RecallOptions, hops: number): Promise<Reached[]> {
  const best = new Map<string, Reached>();
  let frontier = new Map<string, number>(seeds);
  const origin = new Map<string, string>([...seeds.keys()].map((id) => [id, id]));
  for (let hop = 1; hop <= hops && frontier.size; hop++) {
    const ids = [...frontier.keys()];
    const edges = await db
      .selectFrom('memory_edges')
      .select(['from_id', 'to_id', 'type', 'weight'])
      .where('agent_id', '=', agentId)
      .where((eb) => eb.or([eb('from_id', 'in', ids), eb('to_id', 'in', ids)]))
      .execute();
    const offers = new Map<string, Reached>();
    for (const e of edges) {
      if (!isEdgeType(e.type)) continue;
      for (const [here, there] of [
        [e.from_id, e.to_id],
        [e.to_id, e.from_id],
      ] as const) {
        const s = frontier.get(here);
        // A path never returns to the seed it started from (no self-reinforcement of seeds).
        if (s === undefined || origin.get(here) === there) continue;
        const strength = s * EDGE_MULTIPLIERS[e.type] * e.weight * HOP_DAMPING;
        const prev = offers.get(there);
        if (!prev || strength > prev.strength) offers.set(there, { id: there, strength, from: origin.get(here) ?? here, edge: e.type, hops: hop });
      }
    }
    if (!offers.size) break;
    const visibleIds = new Set(
      (
        await db
          .selectFrom('memories')
          .select('id')
          .where('agent_id', '=', agentId)
          .where('id', 'in', [...offers.keys()])
          .where(visible(opts.context))
          .execute()
      ).map((r) => r.id),
    );
    const next = new Map<string, number>();
    for (const offer of offers.values()) {
      if (!visibleIds.has(offer.id)) continue;
      const prev = best.get(offer.id);
      if (!prev || offer.strength > prev.strength) {
        best.set(offer.id, offer);
        if (!origin.has(offer.id)) origin.set(offer.id, offer.from);
        next.set(offer.id, offer.strength);
      }
    }
    frontier = next;
  }
  return [...best.values()].sort((a, b) => b.strength - a.strength || a.id.localeCompare(b.id));
}

/** Loads the given memories (bumping their access stats when `touch`), in the order given. */
async function loadMemories(db: Kysely<Database>, agentId: string, ids: string[], touch: boolean): Promise<Map<string, Memory>> {
  if (!ids.length) return new Map();
  const rows = touch
    ? await db
        .updateTable('memories')
        .set({ last_accessed_at: sql`now()`, access_count: sql`access_count + 1` })
        .where('agent_id', '=', agentId)
        .where('id', 'in', ids)
        .returning([...MEMORY_COLUMNS, hasEmbedding])
        .execute()
    : await db.selectFrom('memories').select([...MEMORY_COLUMNS, hasEmbedding]).where('agent_id', '=', agentId).where('id', 'in', ids).execute();
  return new Map(rows.map((r) => [r.id, toMemory(r)]));
}

/**
 * Recalls memories of one agent visible in `context`. Hybrid mode fuses, by reciprocal rank fusion,
 * (a) pgvector cosine kNN, (b) full-text search and (c) a graph walk from the best seeds of (a)+(b).
 * Without an embedder (a) is skipped; nothing else changes.
 */
export async function recall(db: Kysely<Database>, embedder: Embedder | null, agentId: string, opts: RecallOptions = {}): Promise<RecallResult> {
  const mode = opts.mode ?? 'hybrid';
  if (!(RECALL_MODES as readonly string[]).includes(mode)) throw new MemoryInputError(`unknown mode "${mode}"`, 'mode');
  const limit = Math.min(Math.max(opts.limit ?? 10, 1), 100);
  const touch = opts.touch ?? true;
  const tsQuery = opts.query ? textQuery(opts.query) : null;

  if (mode !== 'hybrid') {
    const order =
      mode === 'recent'
        ? sql`memories.updated_at DESC, memories.id`
        : mode === 'important'
          ? sql`memories.importance DESC, memories.updated_at DESC, memories.id`
          : sql`memories.type, memories.importance DESC, memories.updated_at DESC, memories.id`;
    const { rows } = await sql<{ id: string; importance: number; updated_at: Date }>`
      SELECT memories.id, memories.importance, memories.updated_at FROM memories
       WHERE memories.agent_id = ${agentId} AND ${visible(opts.context)} AND ${typeFilter(opts.types)}
         AND ${tsQuery ? sql`memories.tsv @@ websearch_to_tsquery('english', ${tsQuery})` : sql`true`}
       ORDER BY ${order} LIMIT ${limit}`.execute(db);
    const loaded = await loadMemories(db, agentId, rows.map((r) => r.id), touch);
    const results = rows.flatMap((r) => {
      const memory = loaded.get(r.id);
      if (!memory) return [];
      const score = mode === 'recent' ? new Date(r.updated_at).getTime() : memory.importance;
      return [{ memory, score, signals: {} }];
    });
    return { mode, signalsUsed: [], results };
  }

  if (!opts.query?.trim()) throw new MemoryInputError('a hybrid recall needs a query', 'q');
  const k = opts.rrfK ?? 60;
  const candidates = opts.candidates ?? 50;
  const vectors = await embedChecked(embedder, [opts.query]);
  const signalsUsed: RecallSignal[] = vectors ? ['vector', 'text', 'graph'] : ['text', 'graph'];
  const [vectorHits, textHits] = await Promise.all([
    vectors?.[0] ? vectorCandidates(db, agentId, vectorLiteral(vectors[0]), opts, candidates) : Promise.resolve([]),
    tsQuery ? textCandidates(db, agentId, tsQuery, opts, candidates) : Promise.resolve([]),
  ]);

  const seedScores = reciprocalRankFusion([vectorHits.map((h) => h.id), textHits.map((h) => h.id)], k);
  const seedList = [...seedScores.entries()].sort((a, b) => b[1] - a[1]).slice(0, opts.seeds ?? 5);
  const top = seedList[0]?.[1] ?? 1;
  const reached = await graphWalk(db, agentId, new Map(seedList.map(([id, s]) => [id, s / top])), opts, opts.hops ?? 2);
  // The walk passes through memories of any type; the type filter applies to what it returns.
  const graphHits = opts.types?.length ? await filterTypes(db, agentId, reached, opts.types) : reached;
  const graphList = graphHits.slice(0, candidates);

  const fused = reciprocalRankFusion([vectorHits.map((h) => h.id), textHits.map((h) => h.id), graphList.map((h) => [h.id, Math.min(1, h.strength)] as const)], k);
  const ranked = [...fused.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, limit);
  const loaded = await loadMemories(db, agentId, ranked.map(([id]) => id), touch);

  const results: RecallHit[] = [];
  for (const [id, score] of ranked) {
    const memory = loaded.get(id);
    if (!memory) continue; // deleted meanwhile
    const signals: RecallHit['signals'] = {};
    const v = vectorHits.findIndex((h) => h.id === id);
    if (v >= 0) signals.vector = { rank: v + 1, similarity: round(vectorHits[v]?.value ?? 0) };
    const t = textHits.findIndex((h) => h.id === id);
    if (t >= 0) signals.text = { rank: t + 1, score: round(textHits[t]?.value ?? 0) };
    const g = graphList.findIndex((h) => h.id === id);
    const walk = graphList[g];
    if (walk) signals.graph = { rank: g + 1, score: round(walk.strength), from: walk.from, edge: walk.edge, hops: walk.hops };
    results.push({ memory, score: round(score), signals });
  }
  return { mode, signalsUsed, results };
}

async function filterTypes(db: Kysely<Database>, agentId: string, reached: Reached[], types: MemoryType[]): Promise<Reached[]> {
  if (!reached.length) return reached;
  const ok = new Set(
    (await db.selectFrom('memories').select('id').where('agent_id', '=', agentId).where('id', 'in', reached.map((r) => r.id)).where('type', 'in', types).execute()).map(
      (r) => r.id,
    ),
  );
  return reached.filter((r) => ok.has(r.id));
}

const round = (n: number) => Math.round(n * 1e6) / 1e6;
