import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { readArchive, writeArchive } from './archive.js';
import { assertToolPairsIntact, readEntries, type Db, type StoredEntry } from './entries.js';
import { insertSummary, latestSummary, lockChannel, summaryByKey } from './summaries.js';

export interface ApplySummaryRequest {
  channelId: string;
  /** The archive written for this compaction (its range is the range replaced). */
  archiveId: string;
  /** The summary text, covering the previous summary and the archived turns. */
  content: string;
  /** `provider/model` that wrote it. */
  model: string;
  /** Idempotency key of the compaction. */
  compactionKey: string;
}

export interface ApplyOutcome {
  /** applied; already_applied (a retry found its own row); superseded (a newer compaction already covers the range). */
  outcome: 'applied' | 'already_applied' | 'superseded';
  summaryId?: string;
  fromTurn: number;
  throughTurn: number;
  /** Context rows deleted by this swap. */
  entriesRemoved: number;
  /** Rows deleted that differed from the archive (rewritten into it before the delete committed). */
  archiveRewritten: number;
}

/**
 * The swap: in one transaction, delete the archived turns from context_entries and insert the summary
 * that replaces them. Only turns of the archive's range (all ≤ its through_turn) are touched, so turns
 * the channel added while the summary was being written survive. Rows that changed after archiving are
 * written into the archive first: nothing leaves the context without being archived.
 */
export async function applySummary(db: Kysely<Database>, req: ApplySummaryRequest): Promise<ApplyOutcome> {
  return db.transaction().execute(async (trx) => {
    await lockChannel(trx, req.channelId);
    const archive = await readArchive(trx, req.archiveId);
    if (!archive || archive.channelId !== req.channelId) {
      throw new Error(`archive ${req.archiveId} of channel ${req.channelId} does not exist: run archiveTurns before applying a summary`);
    }
    const range = { fromTurn: archive.fromTurn, throughTurn: archive.throughTurn };
    const done = await summaryByKey(trx, req.compactionKey);
    if (done) return { outcome: 'already_applied', summaryId: done.id, ...range, entriesRemoved: 0, archiveRewritten: 0 };
    const latest = await latestSummary(trx, req.channelId);
    if (latest && latest.throughTurn >= archive.throughTurn) return { outcome: 'superseded', ...range, entriesRemoved: 0, archiveRewritten: 0 };

    const removed = await deleteTurns(trx, req.channelId, archive.fromTurn, archive.throughTurn);
    const remaining = await readEntries(trx, req.channelId, archive.throughTurn);
    assertToolPairsIntact([...removed, ...remaining], archive.throughTurn);
    const changed = changedSince(archive.entries, removed);
    if (changed.length) await writeArchive(trx, req.channelId, archive.fromTurn, archive.throughTurn, archive.reason, mergeEntries(archive.entries, changed));
    const summaryId = await insertSummary(trx, {
      channelId: req.channelId,
      kind: 'summary',
      fromTurn: latest ? Math.min(latest.fromTurn, archive.fromTurn) : archive.fromTurn,
      throughTurn: archive.throughTurn,
      content: req.content,
      archiveId: req.archiveId,
      previousId: latest?.id ?? null,
      model: req.model,
      compactionKey: req.compactionKey,
    });
    return { outcome: 'applied', summaryId, ...range, entriesRemoved: removed.length, archiveRewritten: changed.length };
  });
}

/** Deletes a channel's rows of turns fromTurn..throughTurn, returning them in context order. */
export async function deleteTurns(db: Db, channelId: string, fromTurn: number, throughTurn: number): Promise<StoredEntry[]> {
  const rows = await db
    .deleteFrom('context_entries')
    .where('channel_id', '=', channelId)
    .where('turn_seq', '>=', fromTurn)
    .where('turn_seq', '<=', throughTurn)
    .returning(['turn_seq', 'step', 'idx', 'role', 'content', 'created_at'])
    .execute();
  return rows
    .map((r) => ({
      turnSeq: r.turn_seq,
      step: r.step,
      idx: r.idx,
      role: r.role,
      content: r.content as StoredEntry['content'],
      createdAt: new Date(r.created_at).toISOString(),
    }))
    .sort(comparePositions);
}

function positionKey(e: Pick<StoredEntry, 'turnSeq' | 'step' | 'idx'>): string {
  return `${e.turnSeq}:${e.step}:${e.idx}`;
}

export function comparePositions(a: Pick<StoredEntry, 'turnSeq' | 'step' | 'idx'>, b: Pick<StoredEntry, 'turnSeq' | 'step' | 'idx'>): number {
  return a.turnSeq - b.turnSeq || a.step - b.step || a.idx - b.idx;
}

/** Deleted rows that are not in the archive as archived (new positions, or rewritten content). */
function changedSince(archived: readonly StoredEntry[], deleted: readonly StoredEntry[]): StoredEntry[] {
  const byPosition = new Map(archived.map((e) => [positionKey(e), e]));
  return deleted.filter((e) => {
    const was = byPosition.get(positionKey(e));
    return !was || was.role !== e.role || JSON.stringify(was.content) !== JSON.stringify(e.content);
  });
}

function mergeEntries(archived: readonly StoredEntry[], newer: readonly StoredEntry[]): StoredEntry[] {
  const byPosition = new Map(archived.map((e) => [positionKey(e), e]));
  for (const e of newer) byPosition.set(positionKey(e), e);
  return [...byPosition.values()].sort(comparePositions);
}
