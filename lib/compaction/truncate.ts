import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { deleteTurns } from './apply.js';
import { writeArchive } from './archive.js';
import { BEFORE_FIRST_TURN, assertToolPairsIntact, readEntries } from './entries.js';
import { chooseCompactionRange } from './plan.js';
import { insertSummary, latestSummary, lockChannel, summaryByKey, truncationMarker } from './summaries.js';

export interface TruncateRequest {
  channelId: string;
  /** Share of the context's turns to drop (the policy's TRUNCATE_FRACTION). */
  fraction: number;
  /** The newest turn that may be dropped: the channel's last completed turn. */
  eligibleThrough: number;
  historyTurns: number;
  /** Idempotency key: a retry that finds it does not truncate a second half. */
  compactionKey: string;
}

export interface TruncateOutcome {
  outcome: 'truncated' | 'already_truncated' | 'nothing_to_truncate';
  fromTurn?: number;
  throughTurn?: number;
  turnsRemoved: number;
  entriesRemoved: number;
  archiveId?: string;
  markerId?: string;
}

/**
 * The emergency cut, without an LLM call: in one transaction, archive the oldest `fraction` of the
 * context's turns, delete them, and leave a marker (a context_summaries row of kind 'truncation' that
 * keeps the previous summary's text and says which turns went).
 */
export async function truncateOldestTurns(db: Kysely<Database>, req: TruncateRequest): Promise<TruncateOutcome> {
  return db.transaction().execute(async (trx): Promise<TruncateOutcome> => {
    await lockChannel(trx, req.channelId);
    const done = await summaryByKey(trx, req.compactionKey);
    if (done) {
      return {
        outcome: 'already_truncated',
        fromTurn: done.archiveFromTurn,
        throughTurn: done.throughTurn,
        turnsRemoved: 0,
        entriesRemoved: 0,
        archiveId: done.archiveId,
        markerId: done.id,
      };
    }
    const latest = await latestSummary(trx, req.channelId);
    const entries = await readEntries(trx, req.channelId, latest?.throughTurn ?? BEFORE_FIRST_TURN);
    const range = chooseCompactionRange({ entries, fraction: req.fraction, eligibleThrough: req.eligibleThrough, historyTurns: req.historyTurns });
    if (!range) return { outcome: 'nothing_to_truncate', turnsRemoved: 0, entriesRemoved: 0 };
    assertToolPairsIntact(entries, range.throughTurn);
    const archived = entries.filter((e) => e.turnSeq <= range.throughTurn);
    const archive = await writeArchive(trx, req.channelId, range.fromTurn, range.throughTurn, 'truncate', archived);
    const removed = await deleteTurns(trx, req.channelId, range.fromTurn, range.throughTurn);
    const markerId = await insertSummary(trx, {
      channelId: req.channelId,
      kind: 'truncation',
      fromTurn: latest ? Math.min(latest.fromTurn, range.fromTurn) : range.fromTurn,
      throughTurn: range.throughTurn,
      content: truncationMarker(range.fromTurn, range.throughTurn, latest),
      archiveId: archive.archiveId,
      previousId: latest?.id ?? null,
      model: null,
      compactionKey: req.compactionKey,
    });
    return {
      outcome: 'truncated',
      fromTurn: range.fromTurn,
      throughTurn: range.throughTurn,
      turnsRemoved: range.turns,
      entriesRemoved: removed.length,
      archiveId: archive.archiveId,
      markerId,
    };
  });
}
