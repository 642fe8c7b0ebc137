import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Maintenance passes for the cortex (docs/memory.md). Plain SQL, one agent per call; each returns
 * counts. None of them embeds anything: they work on stored embeddings and skip memories without one.
 */

export interface DecayOptions {
  /** Fraction of the distance to the floor removed per pass, in (0, 1). */
  rate?: number;
  now?: Date;
  /** Importance never decays below this (and memories at or below it are left alone). */
  floor?: number;
  /** Memories accessed within this many days of `now` decay at `rate * recentFactor`. */
  recentDays?: number;
  recentFactor?: number;
}

/**
 * One decay pass: importance' = floor + (importance - floor) * (1 - r), with r = rate, or
 * rate * recentFactor for recently accessed memories. Identity memories are exempt. The map is a
 * contraction toward the floor: it never raises a value, never goes below the floor, and after n
 * passes the distance to the floor is (1 - r)^n of what it was, so nothing collapses in a few passes.
 */
export async function decayImportance(db: Kysely<Database>, agentId: string, opts: DecayOptions = {}): Promise<{ decayed: number }> {
  const rate = opts.rate ?? 0.02;
  const floor = opts.floor ?? 0.05;
  const recentFactor = opts.recentFactor ?? 0.25;
  const recentDays = opts.recentDays ?? 7;
  if (!(rate > 0 && rate < 1)) throw new RangeError('decay rate must be in (0, 1)');
  if (!(floor >= 0 && floor < 1)) throw new RangeError('decay floor must be in [0, 1)');
  if (!(recentFactor >= 0 && recentFactor <= 1)) throw new RangeError('recentFactor must be in [0, 1]');
  const now = opts.now ?? new Date();
  const recentSince = new Date(now.getTime() - recentDays * 86_400_000);
  const { rows } = await sql<{ id: string }>`
    UPDATE memories
       SET importance = GREATEST(${floor}::real,
             ${floor}::real + (importance - ${floor}::real)
               * (1 - ${rate}::real * CASE WHEN last_accessed_at >= ${recentSince} THEN ${recentFactor}::real ELSE 1 END))
     WHERE agent_id = ${agentId} AND type <> 'identity' AND importance > ${floor}::real
     RETURNING id`.execute(db);
  return { decayed: rows.length };
}

export interface PruneOptions {
  /** Memories below this importance... */
  threshold?: number;
  /** ...not created, updated or accessed for this many days are archived. */
  maxAgeDays?: number;
  now?: Date;
}

/** Copies memories into memory_archive, then deletes them and their edges. Returns edges removed. */
async function archiveAndDelete(trx: Transaction<Database>, agentId: string, ids: string[], reason: 'pruned' | 'merged', mergedInto: string | null): Promise<number> {
  if (!ids.length) return 0;
  await sql`
    INSERT INTO memory_archive (id, agent_id, content, type, importance, scope_kind, scope_id, source_channel, source_message,
                                idempotency_key, created_at, updated_at, last_accessed_at, access_count, embedding, reason, merged_into)
    SELECT id, agent_id, content, type, importance, scope_kind, scope_id, source_channel, source_message,
           idempotency_key, created_at, updated_at, last_accessed_at, access_count, embedding, ${reason}, ${mergedInto}::uuid
      FROM memories WHERE agent_id = ${agentId} AND id = ANY(${ids}::uuid[])
    ON CONFLICT (id) DO NOTHING`.execute(trx);
  const edges = await trx
    .deleteFrom('memory_edges')
    .where('agent_id', '=', agentId)
    .where((eb) => eb.or([eb('from_id', 'in', ids), eb('to_id', 'in', ids)]))
    .executeTakeFirst();
  await trx.deleteFrom('memories').where('agent_id', '=', agentId).where('id', 'in', ids).execute();
  return Number(edges.numDeletedRows);
}

/** Moves unimportant, long-untouched memories (identity exempt) into memory_archive. */
export async function pruneMemories(db: Kysely<Database>, agentId: string, opts: PruneOptions = {}): Promise<{ pruned: number; edgesRemoved: number }> {
  const threshold = opts.threshold ?? 0.1;
  const now = opts.now ?? new Date();
  const before = new Date(now.getTime() - (opts.maxAgeDays ?? 30) * 86_400_000);
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ id: string }>`
      SELECT id FROM memories
       WHERE agent_id = ${agentId} AND type <> 'identity' AND importance < ${threshold}::real
         AND GREATEST(created_at, updated_at, last_accessed_at) < ${before}
       FOR UPDATE`.execute(trx);
    const ids = rows.map((r) => r.id);
    const edgesRemoved = await archiveAndDelete(trx, agentId, ids, 'pruned', null);
    return { pruned: ids.length, edgesRemoved };
  });
}

/** Unordered pairs of memories of one agent, in the same scope, with cosine similarity >= threshold. */
async function similarPairs(
  db: Kysely<Database>,
  agentId: string,
  threshold: number,
  sameType: boolean,
  perMemory: number,
): Promise<{ a: string; b: string; similarity: number }[]> {
  const { rows } = await sql<{ a: string; b: string; similarity: number }>`
    SELECT DISTINCT LEAST(m.id, n.id) AS a, GREATEST(m.id, n.id) AS b, n.similarity
      FROM memories m
      CROSS JOIN LATERAL (
        SELECT o.id, 1 - (o.embedding <=> m.embedding) AS similarity
          FROM memories o
         WHERE o.agent_id = m.agent_id AND o.id <> m.id AND o.embedding IS NOT NULL
           AND o.scope_kind = m.scope_kind AND o.scope_id IS NOT DISTINCT FROM m.scope_id
           AND (${!sameType} OR o.type = m.type)
         ORDER BY o.embedding <=> m.embedding
         LIMIT ${perMemory}) n
     WHERE m.agent_id = ${agentId} AND m.embedding IS NOT NULL AND n.similarity >= ${threshold}
     ORDER BY n.similarity DESC, a, b`.execute(db);
  return rows.map((r) => ({ ...r, similarity: Number(r.similarity) }));
}

export interface MergeOptions {
  threshold?: number;
  /** Nearest neighbours examined per memory. */
  perMemory?: number;
}

/**
 * Merges near duplicates (cosine >= threshold, same type and scope): keeps the more important one
 * (then the more recently updated), which takes the larger importance, the summed access counts and
 * the later access time; the other's edges are re-pointed to it and the other is archived
 * (reason 'merged', merged_into = kept id).
 */
export async function mergeNearDuplicates(db: Kysely<Database>, agentId: string, opts: MergeOptions = {}): Promise<{ merged: number; edgesRepointed: number }> {
  const pairs = await similarPairs(db, agentId, opts.threshold ?? 0.95, true, opts.perMemory ?? 10);
  const mergedInto = new Map<string, string>();
  const root = (id: string): string => {
    let r = id;
    while (mergedInto.has(r)) r = mergedInto.get(r) ?? r;
    return r;
  };
  let merged = 0;
  let edgesRepointed = 0;
  for (const pair of pairs) {
    const x = root(pair.a);
    const y = root(pair.b);
    if (x === y) continue;
    const done = await db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('memories')
        .select(['id', 'importance', 'updated_at', 'created_at'])
        .where('agent_id', '=', agentId)
        .where('id', 'in', [x, y])
        .forUpdate()
        .execute();
      if (rows.length !== 2) return null;
      rows.sort(
        (p, q) =>
          q.importance - p.importance ||
          new Date(q.updated_at).getTime() - new Date(p.updated_at).getTime() ||
          new Date(q.created_at).getTime() - new Date(p.created_at).getTime() ||
          p.id.localeCompare(q.id),
      );
      const keep = rows[0]?.id as string;
      const drop = rows[1]?.id as string;
      await sql`
        UPDATE memories k
           SET importance = GREATEST(k.importance, d.importance),
               access_count = k.access_count + d.access_count,
               last_accessed_at = GREATEST(k.last_accessed_at, d.last_accessed_at)
          FROM memories d
         WHERE k.id = ${keep}::uuid AND d.id = ${drop}::uuid`.execute(trx);
      const { rows: moved } = await sql<{ n: number }>`
        INSERT INTO memory_edges (agent_id, from_id, to_id, type, weight, created_at)
        SELECT agent_id,
               CASE WHEN from_id = ${drop}::uuid THEN ${keep}::uuid ELSE from_id END,
               CASE WHEN to_id = ${drop}::uuid THEN ${keep}::uuid ELSE to_id END,
               type, weight, created_at
          FROM memory_edges
         WHERE agent_id = ${agentId} AND (from_id = ${drop}::uuid OR to_id = ${drop}::uuid)
           AND NOT (from_id IN (${drop}::uuid, ${keep}::uuid) AND to_id IN (${drop}::uuid, ${keep}::uuid))
        ON CONFLICT (from_id, to_id, type) DO UPDATE SET weight = GREATEST(memory_edges.weight, excluded.weight)
        RETURNING 1 AS n`.execute(trx);
      await trx.updateTable('memory_archive').set({ merged_into: keep }).where('agent_id', '=', agentId).where('merged_into', '=', drop).execute();
      await archiveAndDelete(trx, agentId, [drop], 'merged', keep);
      return { keep, drop, moved: moved.length };
    });
    if (!done) continue;
    mergedInto.set(done.drop, done.keep);
    merged++;
    edgesRepointed += done.moved;
  }
  return { merged, edgesRepointed };
}

export interface LinkOptions {
  threshold?: number;
  perMemory?: number;
}

/**
 * Adds a `related_to` edge (weight = similarity) between memories of the same scope with cosine
 * similarity >= threshold that have no `related_to` edge in either direction yet.
 */
export async function linkRelated(db: Kysely<Database>, agentId: string, opts: LinkOptions = {}): Promise<{ linked: number }> {
  const pairs = await similarPairs(db, agentId, opts.threshold ?? 0.85, false, opts.perMemory ?? 10);
  if (!pairs.length) return { linked: 0 };
  const { rows } = await sql<{ n: number }>`
    INSERT INTO memory_edges (agent_id, from_id, to_id, type, weight)
    SELECT ${agentId}, p.a, p.b, 'related_to', LEAST(1, GREATEST(p.similarity, 0.000001))
      FROM unnest(${pairs.map((p) => p.a)}::uuid[], ${pairs.map((p) => p.b)}::uuid[], ${pairs.map((p) => p.similarity)}::real[]) AS p(a, b, similarity)
     WHERE NOT EXISTS (
       SELECT 1 FROM memory_edges e
        WHERE e.type = 'related_to' AND ((e.from_id = p.a AND e.to_id = p.b) OR (e.from_id = p.b AND e.to_id = p.a)))
    ON CONFLICT (from_id, to_id, type) DO NOTHING
    RETURNING 1 AS n`.execute(db);
  return { linked: rows.length };
}
