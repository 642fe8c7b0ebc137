import type { Kysely, Transaction } from 'kysely';
import type { EntryRole } from '../channel/context-store.js';
import type { Database } from '../db/schema.js';
import type { ChatMessage, ToolResultPart } from '../llm/types.js';
import { estimateMessageTokens } from './tokens.js';

/** One context_entries row as compaction handles (and archives) it. */
export interface StoredEntry {
  turnSeq: number;
  step: number;
  idx: number;
  role: EntryRole;
  content: ChatMessage | ToolResultPart;
  /** ISO time the row was written. */
  createdAt: string;
}

export type Db = Kysely<Database> | Transaction<Database>;

/** Below every turn number (the smallest Postgres integer, so it can be a query parameter). */
export const BEFORE_FIRST_TURN = -2_147_483_648;

/** The raw rows of a channel with `afterTurn < turn_seq <= throughTurn`, in context order. */
export async function readEntries(db: Db, channelId: string, afterTurn: number, throughTurn?: number): Promise<StoredEntry[]> {
  let query = db
    .selectFrom('context_entries')
    .select(['turn_seq', 'step', 'idx', 'role', 'content', 'created_at'])
    .where('channel_id', '=', channelId)
    .where('turn_seq', '>', afterTurn);
  if (throughTurn !== undefined) query = query.where('turn_seq', '<=', throughTurn);
  const rows = await query.orderBy('turn_seq').orderBy('step').orderBy('idx').execute();
  return rows.map((r) => ({
    turnSeq: r.turn_seq,
    step: r.step,
    idx: r.idx,
    role: r.role,
    content: r.content as ChatMessage | ToolResultPart,
    createdAt: new Date(r.created_at).toISOString(),
  }));
}

/** The message an entry contributes to a conversation (tool results travel in a user message). */
export function entryMessage(entry: Pick<StoredEntry, 'role' | 'content'>): ChatMessage {
  if (entry.role === 'tool') return { role: 'user', parts: [entry.content as ToolResultPart] };
  return entry.content as ChatMessage;
}

/** Ids of the tool calls an entry makes. */
export function callIdsOf(entry: Pick<StoredEntry, 'role' | 'content'>): string[] {
  return entryMessage(entry).parts.flatMap((p) => (p.type === 'tool_call' ? [p.id] : []));
}

/** Ids of the tool calls an entry answers. */
export function resultIdsOf(entry: Pick<StoredEntry, 'role' | 'content'>): string[] {
  return entryMessage(entry).parts.flatMap((p) => (p.type === 'tool_result' ? [p.toolCallId] : []));
}

/**
 * Tool calls whose call and result would end up on different sides of a cut after `throughTurn`.
 * By the position scheme a call's results share its turn, so this is empty for every cut at a turn
 * boundary; it is checked anyway, because a provider rejects a result without its call.
 */
export function splitToolPairs(entries: readonly StoredEntry[], throughTurn: number): string[] {
  const side = new Map<string, { call?: boolean; result?: boolean }>();
  const mark = (id: string, key: 'call' | 'result', before: boolean) => {
    const s = side.get(id) ?? {};
    // Stored as "is before the cut"; a pair is split when call and result disagree.
    s[key] = before;
    side.set(id, s);
  };
  for (const e of entries) {
    const before = e.turnSeq <= throughTurn;
    for (const id of callIdsOf(e)) mark(id, 'call', before);
    for (const id of resultIdsOf(e)) mark(id, 'result', before);
  }
  const split: string[] = [];
  for (const [id, s] of side) if (s.call !== undefined && s.result !== undefined && s.call !== s.result) split.push(id);
  return split;
}

export class ToolPairSplitError extends Error {
  override name = 'ToolPairSplitError';
}

/** Throws when cutting after `throughTurn` would separate a tool call from its result. */
export function assertToolPairsIntact(entries: readonly StoredEntry[], throughTurn: number): void {
  const split = splitToolPairs(entries, throughTurn);
  if (split.length) {
    throw new ToolPairSplitError(
      `compacting through turn ${throughTurn} would separate tool call(s) ${split.join(', ')} from their results; the context rows of these calls are out of order (a result stored in another turn than its call)`,
    );
  }
}

export interface TurnStats {
  turnSeq: number;
  entries: number;
  /** Estimated tokens of the turn's messages. */
  tokens: number;
}

/** Per-turn entry counts and token estimates, in turn order. */
export function turnStats(entries: readonly StoredEntry[]): TurnStats[] {
  const turns: TurnStats[] = [];
  for (const e of entries) {
    let last = turns[turns.length - 1];
    if (!last || last.turnSeq !== e.turnSeq) turns.push((last = { turnSeq: e.turnSeq, entries: 0, tokens: 0 }));
    last.entries++;
    last.tokens += estimateMessageTokens(entryMessage(e));
  }
  return turns;
}
