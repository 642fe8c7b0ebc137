import type { Db } from './entries.js';
import { insertSummary, latestSummary, summaryByKey } from './summaries.js';

/**
 * Gives a forked context (a branch copying its channel's turns up to `throughTurn`) the channel's
 * latest summary of turns before them, so the fork reads what the channel reads. The copy points at
 * the channel's archive; its key makes a repeated fork a no-op. Returns the copy's id, if any.
 */
export async function forkSummary(db: Db, fromChannelId: string, toChannelId: string, throughTurn: number): Promise<string | undefined> {
  const summary = await latestSummary(db, fromChannelId, throughTurn + 1);
  if (!summary) return undefined;
  const compactionKey = `fork:${toChannelId}:${summary.id}`;
  const done = await summaryByKey(db, compactionKey);
  if (done) return done.id;
  return insertSummary(db, {
    channelId: toChannelId,
    kind: summary.kind,
    fromTurn: summary.fromTurn,
    throughTurn: summary.throughTurn,
    content: summary.content,
    archiveId: summary.archiveId,
    previousId: null,
    model: summary.model,
    compactionKey,
  });
}
