import { readEntries, type Db, type StoredEntry } from './entries.js';

/** Why turns left the context. */
export type ArchiveReason = 'summarise' | 'truncate';

export interface ArchiveRecord {
  archiveId: string;
  channelId: string;
  fromTurn: number;
  throughTurn: number;
  reason: ArchiveReason;
  entries: StoredEntry[];
}

export interface ArchivedRange {
  archiveId: string;
  /** Rows archived. */
  entryCount: number;
  /** Distinct turns among them. */
  turnCount: number;
}

/**
 * Copies a channel's raw context rows of turns fromTurn..throughTurn into conversation_archives, before
 * compaction removes them. Written again by a retry (the range is the row's key): the archive always
 * holds the rows as they are at the latest write.
 */
export async function archiveTurns(db: Db, channelId: string, fromTurn: number, throughTurn: number, reason: ArchiveReason): Promise<ArchivedRange> {
  const entries = await readEntries(db, channelId, fromTurn - 1, throughTurn);
  return writeArchive(db, channelId, fromTurn, throughTurn, reason, entries);
}

/** Stores `entries` (the rows of fromTurn..throughTurn) as the archive of that range. */
export async function writeArchive(
  db: Db,
  channelId: string,
  fromTurn: number,
  throughTurn: number,
  reason: ArchiveReason,
  entries: readonly StoredEntry[],
): Promise<ArchivedRange> {
  const json = JSON.stringify(entries);
  const row = await db
    .insertInto('conversation_archives')
    .values({ channel_id: channelId, from_turn: fromTurn, through_turn: throughTurn, reason, entries: json, entry_count: entries.length })
    .onConflict((oc) => oc.columns(['channel_id', 'from_turn', 'through_turn']).doUpdateSet({ reason, entries: json, entry_count: entries.length }))
    .returning('id')
    .executeTakeFirstOrThrow();
  return { archiveId: String(row.id), entryCount: entries.length, turnCount: new Set(entries.map((e) => e.turnSeq)).size };
}

export async function readArchive(db: Db, archiveId: string): Promise<ArchiveRecord | undefined> {
  const row = await db
    .selectFrom('conversation_archives')
    .select(['id', 'channel_id', 'from_turn', 'through_turn', 'reason', 'entries'])
    .where('id', '=', archiveId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    archiveId: String(row.id),
    channelId: row.channel_id,
    fromTurn: row.from_turn,
    throughTurn: row.through_turn,
    reason: row.reason,
    entries: row.entries as StoredEntry[],
  };
}
