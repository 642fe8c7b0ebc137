import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/schema.js';
import { embedChecked, type Embedder } from './embedder.js';
import { EDGE_MULTIPLIERS, isEdgeType, MemoryInputError, type EdgeType, type Memory, type MemoryType, type RecallContext } from './model.js';
import { toMemory, type MemoryRow } from './store.js';
import { visibleIn } from './visibility.js';

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

/**
 * The query vector in pgvector's binary form (vector_recv: dimensions and an unused word as int16,
 * then float4s, big-endian), which pg sends as a binary parameter. pgvector keeps float4 anyway, and
 * formatting 384 doubles as text and parsing them back cost more than the rest of a recall's work in
 * JavaScript (~0.4 ms), plus the parse inside PGlite.
 */
function vectorParameter(v: readonly number[]): Buffer {
  const buf = Buffer.alloc(4 + 4 * v.length);
  buf.writeInt16BE(v.length, 0);
  v.forEach((x, i) => buf.writeFloatBE(x, 4 + 4 * i));
  return buf;
}

interface Reached {
  id: string;
  strength: number;
  from: string;
  edge: EdgeType;
  hops: number;
}

/** An edge the graph walk may follow, with the visibility and (when this agent's) type of both ends. */
interface WalkEdge {
  from_id: string;
  to_id: string;
  type: string;
  weight: number;
  from_visible: boolean;
  to_visible: boolean;
  from_type: string | null;
  to_type: string | null;
}

/** A row of memory_recall_candidates: a ranked candidate, a seed, or an edge (id = its from_id). */
interface CandidateRow extends Omit<WalkEdge, 'from_id' | 'type'> {
  signal: 'vector' | 'text' | 'seed' | 'edge';
  id: string;
  value: string | null;
  ord: string | null;
  edge_type: string;
}

interface Candidates {
  vectorHits: Ranked[];
  textHits: Ranked[];
  /** The seeds the database fused from the two lists, and the edges around them (see below). */
  seeds: string[];
  edges: WalkEdge[];
}

/**
 * The inputs of the ranking in one call of memory_recall_candidates (migrations/011_recall_indexes.sql)
 * — one round trip through PGlite's single session, with plans the session keeps:
 * (a) the filtered HNSW kNN (an iterative scan on pgvector >= 0.8, so the agent, scope and type
 * filters cannot starve the list), (b) ts_rank over the GIN-indexed tsv, and the edges around the
 * best `seeds` of their fusion, which the database fuses exactly as recall() does.
 */
async function candidateLists(db: Kysely<Database>, agentId: string, vector: Buffer | null, tsQuery: string | null, opts: RecallOptions): Promise<Candidates> {
  if (!vector && !tsQuery) return { vectorHits: [], textHits: [], seeds: [], edges: [] };
  const ctx = opts.context;
  const minSimilarity = opts.minSimilarity ?? 0.1;
  const { rows } = await sql<CandidateRow>`
    SELECT * FROM memory_recall_candidates(
      ${agentId}, ${vector}::vector, ${tsQuery}::text, ${opts.candidates ?? 50}::integer, ${ctx?.userId || null}::text, ${ctx?.chatId || null}::text,
      ${opts.types?.length ? opts.types : null}::text[], ${minSimilarity}::double precision, ${opts.rrfK ?? 60}::integer, ${opts.seeds ?? 5}::integer,
      ${opts.hops ?? 2}::integer)`.execute(db);
  const ranked = (signal: 'vector' | 'text' | 'seed') => rows.filter((r) => r.signal === signal).sort((a, b) => Number(a.ord) - Number(b.ord));
  return {
    // Below the similarity floor a neighbour is no match; the list is by distance, so ranks keep.
    vectorHits: ranked('vector').map((r) => ({ id: r.id, value: 1 - Number(r.value) })).filter((r) => r.value >= minSimilarity),
    textHits: ranked('text').map((r) => ({ id: r.id, value: Number(r.value) })),
    seeds: ranked('seed').map((r) => r.id),
    edges: rows
      .filter((r) => r.signal === 'edge')
      .map((r) => ({ from_id: r.id, to_id: r.to_id, type: r.edge_type, weight: r.weight, from_visible: r.from_visible, to_visible: r.to_visible, from_type: r.from_type, to_type: r.to_type })),
  };
}

/** The edges the walk from `seeds` may follow (memory_recall_edges in migrations/011). */
async function walkEdges(db: Kysely<Database>, agentId: string, seeds: string[], opts: RecallOptions, hops: number): Promise<WalkEdge[]> {
  const { rows } = await sql<WalkEdge>`
    SELECT from_id, to_id, type, weight, from_visible, to_visible, from_type, to_type
      FROM memory_recall_edges(${agentId}, ${seeds}::uuid[], ${hops}::integer, ${opts.context?.userId || null}::text, ${opts.context?.chatId || null}::text)`.execute(db);
  return rows;
}

/**
 * Walks `edges` (both directions) from the seeds, up to `hops`, through visible memories only.
 * strength(next) = strength(node) * multiplier(edge type) * edge weight * HOP_DAMPING; seeds start at
 * their fused score relative to the best seed. Keeps each memory's strongest path. The walk passes
 * through memories of any type; with `opts.types` only memories of those types are returned.
 * `edges` must hold every edge touching a memory the walk reaches before its last hop.
 */
function graphWalk(edges: WalkEdge[], seeds: Map<string, number>, opts: RecallOptions, hops: number): Reached[] {
  const visibleIds = new Set<string>();
  const typeOf = new Map<string, string>();
  for (const e of edges) {
    if (e.from_visible) visibleIds.add(e.from_id);
    if (e.to_visible) visibleIds.add(e.to_id);
    if (e.from_type !== null) typeOf.set(e.from_id, e.from_type);
    if (e.to_type !== null) typeOf.set(e.to_id, e.to_type);
  }
  const best = new Map<string, Reached>();
  let frontier = new Map<string, number>(seeds);
  const origin = new Map<string, string>([...seeds.keys()].map((id) => [id, id]));
  for (let hop = 1; hop <= hops && frontier.size; hop++) {
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
  const types = opts.types?.length ? new Set<string>(opts.types) : null;
  return [...best.values()]
    .filter((r) => !types || types.has(typeOf.get(r.id) ?? ''))
    .sort((a, b) => b.strength - a.strength || compareIds(a.id, b.id));
}

/**
 * Loads the given memories (bumping their access stats when `touch`) through memory_load
 * (migrations/011_recall_indexes.sql), whose plans the session keeps.
 */
async function loadMemories(db: Kysely<Database>, agentId: string, ids: string[], touch: boolean): Promise<Map<string, Memory>> {
  if (!ids.length) return new Map();
  const { rows } = await sql<MemoryRow>`SELECT * FROM memory_load(${agentId}, ${ids}::uuid[], ${touch})`.execute(db);
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
       WHERE memories.agent_id = ${agentId} AND ${visibleIn(opts.context)} AND ${typeFilter(opts.types)}
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
  const hops = opts.hops ?? 2;
  const found = await candidateLists(db, agentId, vectors?.[0] ? vectorParameter(vectors[0]) : null, tsQuery, opts);
  const { vectorHits, textHits } = found;

  const seedScores = reciprocalRankFusion([vectorHits.map((h) => h.id), textHits.map((h) => h.id)], k);
  const seedList = [...seedScores.entries()].sort((a, b) => b[1] - a[1]).slice(0, opts.seeds ?? 5);
  const top = seedList[0]?.[1] ?? 1;
  let graphHits: Reached[] = [];
  if (seedList.length && hops >= 1) {
    // The database fused the same lists the same way, so its seeds are these and its edges fit;
    // should the two ever disagree, the edges are fetched for these seeds.
    const sameSeeds = found.seeds.length === seedList.length && seedList.every(([id], i) => found.seeds[i] === id);
    const edges = sameSeeds ? found.edges : await walkEdges(db, agentId, seedList.map(([id]) => id), opts, hops);
    graphHits = graphWalk(edges, new Map(seedList.map(([id, s]) => [id, s / top])), opts, hops);
  }
  const graphList = graphHits.slice(0, candidates);

  const fused = reciprocalRankFusion([vectorHits.map((h) => h.id), textHits.map((h) => h.id), graphList.map((h) => [h.id, Math.min(1, h.strength)] as const)], k);
  const ranked = [...fused.entries()].sort((a, b) => b[1] - a[1] || compareIds(a[0], b[0])).slice(0, limit);
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

/**
 * Tie-break by id. For ids (lowercase hex UUIDs) this is the order localeCompare gave, without its
 * collation cost, which showed in profiles: walk strengths tie often.
 */
const compareIds = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const round = (n: number) => Math.round(n * 1e6) / 1e6;
