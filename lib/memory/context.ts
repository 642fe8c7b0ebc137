import { createHash } from 'node:crypto';
import { sql, type ColumnType, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/schema.js';
import type { RecallContext } from './model.js';
import { visibleIn } from './visibility.js';

/**
 * The memory context: a short block of the agent's most important memories that every channel call
 * includes after the stable prompt prefix (docs/memory.md). It is stored with its hash so that it is
 * byte-identical from call to call until the memories it shows (or their order) change — a changed
 * block would invalidate the provider's prompt cache of everything after it.
 */

/** migrations/007_cortex.sql, typed here (withTables) so lib/db/schema.ts stays as it is. */
export interface MemoryContextTable {
  agent_id: string;
  scope_key: string;
  text: string;
  hash: string;
  memory_count: number;
  word_count: number;
  /** bigint: pg returns it as a string. */
  memory_version: ColumnType<string, number | undefined, RawBuilder<unknown> | number>;
  rendered_at: ColumnType<Date, Date | string | undefined, Date | string | RawBuilder<unknown>>;
  checked_at: ColumnType<Date, Date | string | undefined, Date | string | RawBuilder<unknown>>;
}

type Db = Kysely<Database>;
const table = (db: Db) => db.withTables<{ memory_context: MemoryContextTable }>();

/** Most words a context may have, header included. */
export const MEMORY_CONTEXT_MAX_WORDS = 500;
/** Memories considered, most important first; more than ever fit in 500 words. */
const CANDIDATES = 200;
export const MEMORY_CONTEXT_HEADER = '## What you remember\nYour most important memories, most important first:';

export interface RenderOptions {
  /** Whose user and chat memories to include besides the agent-wide ones (none by default). */
  context?: RecallContext;
  maxWords?: number;
}

export interface RenderedContext {
  /** '' when the agent has no memories to show. */
  text: string;
  hash: string;
  memoryCount: number;
  wordCount: number;
}

export interface StoredContext extends RenderedContext {
  scopeKey: string;
  /** Counts the changes of `text`, from 1. */
  memoryVersion: number;
  renderedAt: string;
}

export interface RefreshResult extends StoredContext {
  /** True when the text differs from what was stored (or nothing was). */
  changed: boolean;
}

/** 'agent', or the visible user/chat scopes: 'user:<id>', 'chat:<id>', 'user:<id>|chat:<id>'. */
export function scopeKeyOf(context: RecallContext | undefined): string {
  const parts: string[] = [];
  if (context?.userId) parts.push(`user:${context.userId}`);
  if (context?.chatId) parts.push(`chat:${context.chatId}`);
  return parts.length ? parts.join('|') : 'agent';
}

function contextOfScopeKey(key: string): RecallContext {
  const out: RecallContext = {};
  for (const part of key.split('|')) {
    if (part.startsWith('user:')) out.userId = part.slice(5);
    else if (part.startsWith('chat:')) out.chatId = part.slice(5);
  }
  return out;
}

const countWords = (text: string) => (text.match(/\S+/g) ?? []).length;
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * Renders the context from the database, without storing it. Most important first, ties broken by id
 * (the order is total, so the same memories always give the same bytes); one line per memory with
 * its whitespace collapsed; memories that would push the text past `maxWords` are left out whole
 * (the text is only ever cut at a memory boundary). Importance values are not printed: decay changes
 * them every pass, and the text must only change when what it shows changes.
 */
export async function renderMemoryContext(db: Db, agentId: string, opts: RenderOptions = {}): Promise<RenderedContext> {
  const maxWords = opts.maxWords ?? MEMORY_CONTEXT_MAX_WORDS;
  const ctx = opts.context;
  const rows = await db
    .selectFrom('memories')
    .select(['id', 'content', 'type', 'scope_kind'])
    .where('agent_id', '=', agentId)
    .where(visibleIn(ctx))
    .orderBy('importance', 'desc')
    .orderBy('id', 'asc')
    .limit(CANDIDATES)
    .execute();

  let words = countWords(MEMORY_CONTEXT_HEADER);
  const lines: string[] = [];
  for (const row of rows) {
    const content = row.content.replace(/\s+/g, ' ').trim();
    if (!content) continue;
    const label = row.scope_kind === 'agent' ? row.type : `${row.type}, about this ${row.scope_kind === 'user' ? 'user' : 'chat'}`;
    const line = `- (${label}) ${content}`;
    const n = countWords(line);
    if (words + n > maxWords) continue;
    words += n;
    lines.push(line);
  }
  const text = lines.length ? `${MEMORY_CONTEXT_HEADER}\n${lines.join('\n')}` : '';
  return { text, hash: sha256(text), memoryCount: lines.length, wordCount: lines.length ? words : 0 };
}

function toStored(row: { scope_key: string; text: string; hash: string; memory_count: number; word_count: number; memory_version: string; rendered_at: Date }): StoredContext {
  return {
    scopeKey: row.scope_key,
    text: row.text,
    hash: row.hash,
    memoryCount: row.memory_count,
    wordCount: row.word_count,
    memoryVersion: Number(row.memory_version),
    renderedAt: new Date(row.rendered_at).toISOString(),
  };
}

/**
 * Renders the context and stores it when its text changed. An unchanged text leaves the stored row
 * (text, hash, version, rendered_at) exactly as it was; only `checked_at` moves.
 */
export async function refreshMemoryContext(db: Db, agentId: string, opts: RenderOptions = {}): Promise<RefreshResult> {
  const scopeKey = scopeKeyOf(opts.context);
  const rendered = await renderMemoryContext(db, agentId, opts);
  const row = await table(db)
    .insertInto('memory_context')
    .values({ agent_id: agentId, scope_key: scopeKey, text: rendered.text, hash: rendered.hash, memory_count: rendered.memoryCount, word_count: rendered.wordCount })
    .onConflict((oc) =>
      oc.columns(['agent_id', 'scope_key']).doUpdateSet({
        // Every column keeps its value unless the hash differs: one statement, no read-modify-write race.
        text: sql`CASE WHEN memory_context.hash = excluded.hash THEN memory_context.text ELSE excluded.text END`,
        memory_count: sql`CASE WHEN memory_context.hash = excluded.hash THEN memory_context.memory_count ELSE excluded.memory_count END`,
        word_count: sql`CASE WHEN memory_context.hash = excluded.hash THEN memory_context.word_count ELSE excluded.word_count END`,
        memory_version: sql`CASE WHEN memory_context.hash = excluded.hash THEN memory_context.memory_version ELSE memory_context.memory_version + 1 END`,
        rendered_at: sql`CASE WHEN memory_context.hash = excluded.hash THEN memory_context.rendered_at ELSE now() END`,
        checked_at: sql`now()`,
        hash: sql`excluded.hash`,
      }),
    )
    .returning(['scope_key', 'text', 'hash', 'memory_count', 'word_count', 'memory_version', 'rendered_at', sql<boolean>`(memory_context.checked_at = memory_context.rendered_at)`.as('changed')])
    .executeTakeFirstOrThrow();
  return { ...toStored(row), changed: Boolean(row.changed) };
}

/** The stored context, if any, without rendering. */
export async function getStoredMemoryContext(db: Db, agentId: string, context?: RecallContext): Promise<StoredContext | undefined> {
  const row = await table(db)
    .selectFrom('memory_context')
    .select(['scope_key', 'text', 'hash', 'memory_count', 'word_count', 'memory_version', 'rendered_at'])
    .where('agent_id', '=', agentId)
    .where('scope_key', '=', scopeKeyOf(context))
    .executeTakeFirst();
  return row ? toStored(row) : undefined;
}

/**
 * The memory context to put after the stable prompt prefix of a channel call: the stored text
 * (rendered by the cortex each pass), rendered and stored now if there is none yet. Undefined when
 * the agent has no memories to show, so callers add nothing rather than an empty heading.
 */
export async function loadMemoryContext(db: Db, agentId: string, context?: RecallContext): Promise<string | undefined> {
  const stored = (await getStoredMemoryContext(db, agentId, context)) ?? (await refreshMemoryContext(db, agentId, { context }));
  return stored.text || undefined;
}

/**
 * Re-renders every stored context of the agent (the agent-wide one always): what a cortex pass does.
 * Scoped contexts exist once something loaded them.
 */
export async function refreshAllMemoryContexts(db: Db, agentId: string): Promise<{ contexts: number; changed: number; agentWide: RefreshResult }> {
  const keys = (await table(db).selectFrom('memory_context').select('scope_key').where('agent_id', '=', agentId).execute()).map((r) => r.scope_key);
  const agentWide = await refreshMemoryContext(db, agentId);
  let changed = agentWide.changed ? 1 : 0;
  const scoped = keys.filter((k) => k !== 'agent').sort();
  for (const key of scoped) {
    if ((await refreshMemoryContext(db, agentId, { context: contextOfScopeKey(key) })).changed) changed++;
  }
  return { contexts: scoped.length + 1, changed, agentWide };
}
