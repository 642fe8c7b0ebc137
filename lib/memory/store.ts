import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database, MemoriesTable, MemoryEdgesTable } from '../db/schema.js';
import { embedChecked, vectorLiteral, type Embedder } from './embedder.js';
import {
  DEFAULT_IMPORTANCE,
  isEdgeType,
  isMemoryType,
  MAX_CONTENT_BYTES,
  MemoryInputError,
  type EdgeType,
  type Memory,
  type MemoryEdge,
  type MemoryScope,
  type MemoryType,
} from './model.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_SCOPE_ID = 200;
const MAX_KEY = 200;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export interface Association {
  id: string;
  type: EdgeType;
  /** (0, 1]; 1 when omitted. */
  weight?: number;
}

export interface SaveMemoryInput {
  content: string;
  type: MemoryType;
  /** [0, 1]; the type's default when omitted. */
  importance?: number;
  scope?: MemoryScope;
  source?: { channel?: string; message?: string };
  /** Edges from the new memory to existing memories of the same agent. */
  associations?: Association[];
  /** The same key twice (per agent) returns the first save's memory and writes nothing. */
  idempotencyKey?: string;
}

export interface SaveMemoryOptions {
  /** Cosine similarity at or above which a save counts as an update of an existing memory. */
  duplicateThreshold?: number;
}

export interface SaveMemoryResult {
  memory: Memory;
  /**
   * created: a new memory; duplicate: the idempotency key was seen before, nothing written;
   * updated: a new memory that supersedes a near-duplicate (`updates` edge to `supersedes`).
   */
  status: 'created' | 'duplicate' | 'updated';
  supersedes?: string;
}

export type MemoryRow = Omit<Selectable<MemoriesTable>, 'embedding' | 'tsv'> & { has_embedding: boolean };

/** Columns of a Memory, without the embedding itself. */
export const MEMORY_COLUMNS = [
  'memories.id',
  'memories.agent_id',
  'memories.content',
  'memories.type',
  'memories.importance',
  'memories.scope_kind',
  'memories.scope_id',
  'memories.source_channel',
  'memories.source_message',
  'memories.idempotency_key',
  'memories.created_at',
  'memories.updated_at',
  'memories.last_accessed_at',
  'memories.access_count',
] as const;

export const hasEmbedding = sql<boolean>`(memories.embedding IS NOT NULL)`.as('has_embedding');

const iso = (d: Date | string) => new Date(d).toISOString();
/** real (float4) comes back as e.g. 0.6000000238; six places are all it holds. */
const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

export function toMemory(row: MemoryRow): Memory {
  const scope: MemoryScope =
    row.scope_kind === 'agent' || row.scope_id === null ? { kind: 'agent' } : { kind: row.scope_kind, id: row.scope_id };
  return {
    id: row.id,
    agentId: row.agent_id,
    content: row.content,
    type: row.type as MemoryType,
    importance: round6(row.importance),
    scope,
    source: { channel: row.source_channel, message: row.source_message },
    idempotencyKey: row.idempotency_key,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    lastAccessedAt: iso(row.last_accessed_at),
    accessCount: row.access_count,
    hasEmbedding: row.has_embedding,
  };
}

export function toEdge(row: Selectable<MemoryEdgesTable>): MemoryEdge {
  return { fromId: row.from_id, toId: row.to_id, type: row.type as EdgeType, weight: round6(row.weight), createdAt: iso(row.created_at) };
}

export function scopeColumns(scope: MemoryScope | undefined): { scope_kind: 'agent' | 'user' | 'chat'; scope_id: string | null } {
  if (!scope || scope.kind === 'agent') return { scope_kind: 'agent', scope_id: null };
  return { scope_kind: scope.kind, scope_id: scope.id };
}

function validateScope(scope: MemoryScope | undefined): void {
  if (!scope || scope.kind === 'agent') return;
  if (scope.kind !== 'user' && scope.kind !== 'chat') throw new MemoryInputError(`unknown scope kind "${String((scope as { kind: unknown }).kind)}"`, 'scope.kind');
  if (typeof scope.id !== 'string' || scope.id.length === 0 || scope.id.length > MAX_SCOPE_ID) {
    throw new MemoryInputError(`a ${scope.kind} scope needs an id of 1 to ${MAX_SCOPE_ID} characters`, 'scope.id');
  }
}

function validateInput(input: SaveMemoryInput): void {
  if (typeof input.content !== 'string' || input.content.trim().length === 0) throw new MemoryInputError('content must not be empty', 'content');
  if (Buffer.byteLength(input.content, 'utf8') > MAX_CONTENT_BYTES) throw new MemoryInputError(`content is larger than ${MAX_CONTENT_BYTES} bytes`, 'content');
  if (!isMemoryType(input.type)) throw new MemoryInputError(`unknown memory type "${String(input.type)}"`, 'type');
  if (input.importance !== undefined && !(Number.isFinite(input.importance) && input.importance >= 0 && input.importance <= 1)) {
    throw new MemoryInputError('importance must be between 0 and 1', 'importance');
  }
  validateScope(input.scope);
  if (input.idempotencyKey !== undefined && (input.idempotencyKey.length === 0 || input.idempotencyKey.length > MAX_KEY)) {
    throw new MemoryInputError(`idempotencyKey must be 1 to ${MAX_KEY} characters`, 'idempotencyKey');
  }
  (input.associations ?? []).forEach((a, i) => {
    if (typeof a.id !== 'string' || !isUuid(a.id)) throw new MemoryInputError('association id must be a memory id (uuid)', `associations.${i}.id`);
    if (!isEdgeType(a.type)) throw new MemoryInputError(`unknown edge type "${String(a.type)}"`, `associations.${i}.type`);
    if (a.weight !== undefined && !(Number.isFinite(a.weight) && a.weight > 0 && a.weight <= 1)) {
      throw new MemoryInputError('weight must be in (0, 1]', `associations.${i}.weight`);
    }
  });
}

async function findByKey(db: Kysely<Database>, agentId: string, key: string): Promise<Memory | null> {
  const row = await db.selectFrom('memories').select([...MEMORY_COLUMNS, hasEmbedding]).where('agent_id', '=', agentId).where('idempotency_key', '=', key).executeTakeFirst();
  if (row) return toMemory(row);
  // A memory merged away by the cortex answers with the memory it was merged into.
  const archived = await db
    .selectFrom('memory_archive')
    .select('merged_into')
    .where('agent_id', '=', agentId)
    .where('idempotency_key', '=', key)
    .where('merged_into', 'is not', null)
    .orderBy('archived_at', 'desc')
    .executeTakeFirst();
  return archived?.merged_into ? getMemory(db, agentId, archived.merged_into) : null;
}

export async function agentExists(db: Kysely<Database>, agentId: string): Promise<boolean> {
  return Boolean(await db.selectFrom('agents').select('id').where('id', '=', agentId).executeTakeFirst());
}

/**
 * Saves a memory. Idempotent by `idempotencyKey`. When an embedder is given and an existing memory
 * of the same type and scope is a near duplicate (cosine >= 0.95), the new memory supersedes it:
 * it is stored with importance max(new, old) and an `updates` edge to the old one (docs/memory.md).
 */
export async function saveMemory(
  db: Kysely<Database>,
  embedder: Embedder | null,
  agentId: string,
  input: SaveMemoryInput,
  opts: SaveMemoryOptions = {},
): Promise<SaveMemoryResult> {
  validateInput(input);
  if (!(await agentExists(db, agentId))) throw new MemoryInputError(`unknown agent "${agentId}"`, 'agent');
  const key = input.idempotencyKey;
  if (key !== undefined) {
    const seen = await findByKey(db, agentId, key);
    if (seen) return { memory: seen, status: 'duplicate' };
  }
  const threshold = opts.duplicateThreshold ?? 0.95;
  const vectors = await embedChecked(embedder, [input.content]);
  const vector = vectors?.[0] ? vectorLiteral(vectors[0]) : null;
  const scope = scopeColumns(input.scope);

  const result = await db.transaction().execute(async (trx): Promise<SaveMemoryResult | null> => {
    const associations = input.associations ?? [];
    if (associations.length) {
      const ids = [...new Set(associations.map((a) => a.id))];
      const found = new Set(
        (await trx.selectFrom('memories').select('id').where('agent_id', '=', agentId).where('id', 'in', ids).execute()).map((r) => r.id),
      );
      const missing = associations.findIndex((a) => !found.has(a.id));
      if (missing >= 0) throw new MemoryInputError(`no memory ${associations[missing]?.id} for agent ${agentId}`, `associations.${missing}.id`);
    }

    let supersedes: { id: string; importance: number } | undefined;
    if (vector) {
      const nearest = await trx
        .selectFrom('memories')
        .select(['id', 'importance', sql<number>`1 - (embedding <=> ${vector}::vector)`.as('similarity')])
        .where('agent_id', '=', agentId)
        .where('type', '=', input.type)
        .where('scope_kind', '=', scope.scope_kind)
        .where(sql<boolean>`scope_id IS NOT DISTINCT FROM ${scope.scope_id}`)
        .where('embedding', 'is not', null)
        .orderBy(sql`embedding <=> ${vector}::vector`)
        .limit(1)
        .executeTakeFirst();
      if (nearest && Number(nearest.similarity) >= threshold) supersedes = { id: nearest.id, importance: nearest.importance };
    }

    const base = input.importance ?? DEFAULT_IMPORTANCE[input.type];
    const importance = supersedes ? Math.max(base, supersedes.importance) : base;
    const id = randomUUID();
    const inserted = await trx
      .insertInto('memories')
      .values({
        id,
        agent_id: agentId,
        content: input.content,
        type: input.type,
        importance,
        ...scope,
        source_channel: input.source?.channel ?? null,
        source_message: input.source?.message ?? null,
        idempotency_key: key ?? null,
        embedding: vector,
      })
      .onConflict((oc) => oc.columns(['agent_id', 'idempotency_key']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) return null; // a concurrent save with the same key won

    const edges = associations.map((a) => ({ agent_id: agentId, from_id: id, to_id: a.id, type: a.type, weight: a.weight ?? 1 }));
    if (supersedes) edges.push({ agent_id: agentId, from_id: id, to_id: supersedes.id, type: 'updates', weight: 1 });
    if (edges.length) {
      await trx
        .insertInto('memory_edges')
        .values(edges)
        .onConflict((oc) => oc.columns(['from_id', 'to_id', 'type']).doUpdateSet({ weight: sql`GREATEST(memory_edges.weight, excluded.weight)` }))
        .execute();
    }
    const memory = await getMemory(trx, agentId, id);
    if (!memory) throw new Error(`memory ${id} vanished after insert`);
    return supersedes ? { memory, status: 'updated', supersedes: supersedes.id } : { memory, status: 'created' };
  });
  if (result) return result;
  const winner = key !== undefined ? await findByKey(db, agentId, key) : null;
  if (!winner) throw new Error('idempotent save lost a race and found no memory for its key');
  return { memory: winner, status: 'duplicate' };
}

export async function getMemory(db: Kysely<Database> | Transaction<Database>, agentId: string, id: string): Promise<Memory | null> {
  if (!isUuid(id)) return null;
  const row = await db.selectFrom('memories').select([...MEMORY_COLUMNS, hasEmbedding]).where('agent_id', '=', agentId).where('id', '=', id).executeTakeFirst();
  return row ? toMemory(row) : null;
}

/** Deletes a memory and (by cascade) its edges. False when the agent has no such memory. */
export async function deleteMemory(db: Kysely<Database>, agentId: string, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const res = await db.deleteFrom('memories').where('agent_id', '=', agentId).where('id', '=', id).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

export interface ListMemoriesOptions {
  type?: MemoryType;
  /** Exactly this scope (not the recall visibility rules). */
  scope?: MemoryScope;
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface MemoryPage {
  memories: Memory[];
  nextCursor: string | null;
}

function decodeCursor(cursor: string): { at: string; id: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && typeof parsed[0] === 'string' && typeof parsed[1] === 'string' && isUuid(parsed[1]) && /^\d{4}-\d\d-\d\dT[\d:.]+$/.test(parsed[0])) {
      return { at: parsed[0], id: parsed[1] };
    }
  } catch {
    // fall through
  }
  throw new MemoryInputError('not a cursor returned by this API', 'cursor');
}

/** Newest first, paged by an opaque cursor on (created_at, id) with microsecond precision. */
export async function listMemories(db: Kysely<Database>, agentId: string, opts: ListMemoriesOptions = {}): Promise<MemoryPage> {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
  if (opts.scope) validateScope(opts.scope);
  let q = db
    .selectFrom('memories')
    .select([...MEMORY_COLUMNS, hasEmbedding, sql<string>`to_char(memories.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')`.as('cursor_at')])
    .where('agent_id', '=', agentId);
  if (opts.type) q = q.where('type', '=', opts.type);
  if (opts.scope) {
    const scope = scopeColumns(opts.scope);
    q = q.where('scope_kind', '=', scope.scope_kind).where(sql<boolean>`scope_id IS NOT DISTINCT FROM ${scope.scope_id}`);
  }
  if (opts.cursor) {
    const c = decodeCursor(opts.cursor);
    q = q.where(sql<boolean>`(memories.created_at, memories.id) < ((${c.at}::timestamp AT TIME ZONE 'UTC'), ${c.id}::uuid)`);
  }
  const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    memories: page.map(toMemory),
    nextCursor: rows.length > limit && last ? Buffer.from(JSON.stringify([last.cursor_at, last.id])).toString('base64url') : null,
  };
}

/** Edges touching a memory (both directions); null when the agent has no such memory. */
export async function edgesOf(db: Kysely<Database>, agentId: string, id: string): Promise<MemoryEdge[] | null> {
  if (!(await getMemory(db, agentId, id))) return null;
  const rows = await db
    .selectFrom('memory_edges')
    .selectAll()
    .where('agent_id', '=', agentId)
    .where((eb) => eb.or([eb('from_id', '=', id), eb('to_id', '=', id)]))
    .orderBy('created_at')
    .orderBy('type')
    .execute();
  return rows.map(toEdge);
}

/** Adds (or strengthens) an edge between two memories of one agent. */
export async function linkMemories(db: Kysely<Database>, agentId: string, fromId: string, toId: string, type: EdgeType, weight = 1): Promise<void> {
  if (fromId === toId) throw new MemoryInputError('a memory cannot be linked to itself', 'to');
  if (!isEdgeType(type)) throw new MemoryInputError(`unknown edge type "${String(type)}"`, 'type');
  const found = await db.selectFrom('memories').select('id').where('agent_id', '=', agentId).where('id', 'in', [fromId, toId].filter(isUuid)).execute();
  if (found.length !== 2) throw new MemoryInputError(`both memories must belong to agent ${agentId}`, 'id');
  await db
    .insertInto('memory_edges')
    .values({ agent_id: agentId, from_id: fromId, to_id: toId, type, weight })
    .onConflict((oc) => oc.columns(['from_id', 'to_id', 'type']).doUpdateSet({ weight: sql`GREATEST(memory_edges.weight, excluded.weight)` }))
    .execute();
}
