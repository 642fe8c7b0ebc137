/** The memory model: types with their default importance, scopes, edge types. See docs/memory.md. */

export const MEMORY_TYPES = ['fact', 'preference', 'decision', 'identity', 'event', 'observation', 'goal', 'todo', 'person'] as const;
export type MemoryType = (typeof MEMORY_TYPES)[number];

export const DEFAULT_IMPORTANCE: Readonly<Record<MemoryType, number>> = {
  fact: 0.6,
  preference: 0.7,
  decision: 0.8,
  identity: 1.0,
  event: 0.4,
  observation: 0.3,
  goal: 0.9,
  todo: 0.8,
  person: 0.85,
};

export const EDGE_TYPES = ['related_to', 'updates', 'contradicts', 'caused_by', 'result_of', 'part_of'] as const;
export type EdgeType = (typeof EDGE_TYPES)[number];

/** How strongly the graph walk follows each edge type (times the edge's weight). */
export const EDGE_MULTIPLIERS: Readonly<Record<EdgeType, number>> = {
  updates: 1.5,
  caused_by: 1.3,
  result_of: 1.3,
  related_to: 1.0,
  part_of: 0.8,
  contradicts: 0.5,
};

/** agent: agent-wide; user: scope id is the user id; chat: scope id is the channel id. */
export type MemoryScope = { kind: 'agent' } | { kind: 'user'; id: string } | { kind: 'chat'; id: string };
export const SCOPE_KINDS = ['agent', 'user', 'chat'] as const;

/** What a recall may see: agent-wide memories, plus this user's and this chat's when given. */
export interface RecallContext {
  userId?: string;
  chatId?: string;
}

/** Matches the `vector(384)` column of migrations/001_init.sql. */
export const EMBEDDING_DIMENSIONS = 384;
/** Longest memory content, in UTF-8 bytes. */
export const MAX_CONTENT_BYTES = 50 * 1024;

export function isMemoryType(value: string): value is MemoryType {
  return (MEMORY_TYPES as readonly string[]).includes(value);
}

export function isEdgeType(value: string): value is EdgeType {
  return (EDGE_TYPES as readonly string[]).includes(value);
}

export interface Memory {
  id: string;
  agentId: string;
  content: string;
  type: MemoryType;
  importance: number;
  scope: MemoryScope;
  source: { channel: string | null; message: string | null };
  idempotencyKey: string | null;
  createdAt: string;
  updatedAt: string;
  lastAccessedAt: string;
  accessCount: number;
  hasEmbedding: boolean;
}

export interface MemoryEdge {
  fromId: string;
  toId: string;
  type: EdgeType;
  weight: number;
  createdAt: string;
}

/** A caller error (bad input, unknown association); the API maps it to 400 with `field`. */
export class MemoryInputError extends Error {
  override name = 'MemoryInputError';
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** The embedder's vectors do not fit the schema's column. */
export class EmbeddingDimensionError extends Error {
  override name = 'EmbeddingDimensionError';
}
