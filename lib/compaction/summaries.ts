import type { ChatMessage } from '../llm/types.js';
import type { Db } from './entries.js';

/** A context_summaries row: what stands in a channel's context for its turns up to `throughTurn`. */
export interface ContextSummary {
  id: string;
  kind: 'summary' | 'truncation';
  fromTurn: number;
  throughTurn: number;
  content: string;
  archiveId: string;
  model: string | null;
}

/**
 * The newest summary of a channel that an LLM call in `beforeTurn` may see (one covering only turns
 * before it); without `beforeTurn`, the newest of all.
 */
export async function latestSummary(db: Db, channelId: string, beforeTurn?: number): Promise<ContextSummary | undefined> {
  let query = db
    .selectFrom('context_summaries')
    .select(['id', 'kind', 'from_turn', 'through_turn', 'content', 'archive_id', 'model'])
    .where('channel_id', '=', channelId);
  if (beforeTurn !== undefined) query = query.where('through_turn', '<', beforeTurn);
  const row = await query.orderBy('through_turn', 'desc').limit(1).executeTakeFirst();
  if (!row) return undefined;
  return {
    id: String(row.id),
    kind: row.kind,
    fromTurn: row.from_turn,
    throughTurn: row.through_turn,
    content: row.content,
    archiveId: String(row.archive_id),
    model: row.model,
  };
}

/**
 * How a summary enters the conversation: a user message at its start, framed so the model knows it
 * is a recap written for it and not something a person just said.
 */
export function summaryMessage(summary: Pick<ContextSummary, 'fromTurn' | 'throughTurn' | 'content'>): ChatMessage {
  const turns = summary.fromTurn === summary.throughTurn ? `turn ${summary.fromTurn}` : `turns ${summary.fromTurn}–${summary.throughTurn}`;
  return {
    role: 'user',
    parts: [
      {
        type: 'text',
        text: `[Earlier in this conversation (${turns}), condensed to fit the context window. This is a recap, not a new message.]\n\n${summary.content.trim()}`,
      },
    ],
  };
}

/** The text a truncation leaves in place of the turns it dropped (after the previous summary, if any). */
export function truncationMarker(fromTurn: number, throughTurn: number, previous?: Pick<ContextSummary, 'content'>): string {
  const turns = fromTurn === throughTurn ? `Turn ${fromTurn} was` : `Turns ${fromTurn}–${throughTurn} were`;
  const marker = `[${turns} removed without a summary because the context window was nearly full. Ask the people in the conversation if something from then matters.]`;
  return previous ? `${previous.content.trim()}\n\n${marker}` : marker;
}

export interface NewSummary {
  channelId: string;
  kind: ContextSummary['kind'];
  fromTurn: number;
  throughTurn: number;
  content: string;
  archiveId: string;
  previousId: string | null;
  model: string | null;
  compactionKey: string;
}

export async function insertSummary(db: Db, s: NewSummary): Promise<string> {
  const row = await db
    .insertInto('context_summaries')
    .values({
      channel_id: s.channelId,
      kind: s.kind,
      from_turn: s.fromTurn,
      through_turn: s.throughTurn,
      content: s.content,
      archive_id: s.archiveId,
      previous_id: s.previousId,
      model: s.model,
      compaction_key: s.compactionKey,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return String(row.id);
}

/** The summary a compaction with this key already wrote (a retry after the commit), if any. */
export async function summaryByKey(db: Db, compactionKey: string): Promise<(ContextSummary & { entryCount: number; archiveFromTurn: number }) | undefined> {
  const row = await db
    .selectFrom('context_summaries as s')
    .innerJoin('conversation_archives as a', 'a.id', 's.archive_id')
    .select(['s.id', 's.kind', 's.from_turn', 's.through_turn', 's.content', 's.archive_id', 's.model', 'a.entry_count', 'a.from_turn as archive_from_turn'])
    .where('s.compaction_key', '=', compactionKey)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: String(row.id),
    kind: row.kind,
    fromTurn: row.from_turn,
    throughTurn: row.through_turn,
    content: row.content,
    archiveId: String(row.archive_id),
    model: row.model,
    entryCount: row.entry_count,
    archiveFromTurn: row.archive_from_turn,
  };
}

/**
 * Serialises compactions of one channel (a truncation may start while a summary is being applied):
 * the channel's row stays locked until the transaction ends.
 */
export async function lockChannel(db: Db, channelId: string): Promise<void> {
  const row = await db.selectFrom('channels').select('id').where('id', '=', channelId).forUpdate().executeTakeFirst();
  if (!row) throw new Error(`channel ${channelId} does not exist: compaction needs the channel's row (written by its first recordInbound)`);
}
