import { log } from '@temporalio/workflow';
import type { CompactionActivities, CompactorInput, CompactorResult } from '../activities/contract.js';
import { LLM_OPTIONS, STORAGE_OPTIONS } from './activity-options.js';
import { proxyActivitiesOn } from './queued-activities.js';

/**
 * The compactor: a child workflow of a channel that replaces the channel's oldest context turns with a
 * summary while the channel keeps answering (issue 3).
 *
 * 1. planCompaction picks whole turns (the oldest `fraction` of the context, cut at a turn boundary so
 *    no tool call leaves its result behind) among the turns up to `throughTurn`;
 * 2. archiveTurns copies their raw rows to conversation_archives;
 * 3. summariseTurns has the compactor model (`[routing] compactor`, prompts/COMPACTOR.md) fold the
 *    previous summary and those turns into one summary;
 * 4. applyCompaction swaps them for the summary in one transaction, touching only turns up to the
 *    plan's end, so turns the channel added meanwhile survive.
 *
 * Storage steps are ordinary activities (not local ones) so each shows in the Temporal UI.
 */

// Background work: compaction never takes the slots of a chat reply's LLM call.
const storage = proxyActivitiesOn<CompactionActivities>('background', STORAGE_OPTIONS);
const llm = proxyActivitiesOn<CompactionActivities>('background', LLM_OPTIONS);

/** A stable id per channel: one compactor at a time (start it with WorkflowIdReusePolicy ALLOW_DUPLICATE). */
export function compactorWorkflowId(channelId: string): string {
  return `compactor:${channelId}`;
}

export async function compactorWorkflow(input: CompactorInput): Promise<CompactorResult> {
  const { agentId, channelId } = input;
  const plan = await storage.planCompaction.executeWithOptions({ summary: `plan: oldest ${Math.round(input.fraction * 100)}% of turns ≤ ${input.throughTurn}` }, [
    { agentId, channelId, fraction: input.fraction, throughTurn: input.throughTurn },
  ]);
  const tokensBefore = input.usedTokens ?? plan.contextTokens;
  const range = plan.range;
  if (!range) {
    log.info('nothing to compact', { channelId, throughTurn: input.throughTurn });
    return { outcome: 'nothing_to_compact', turnsArchived: 0, entriesArchived: 0, tokensBefore, tokensAfter: tokensBefore };
  }
  const turns = `turns ${range.fromTurn}–${range.throughTurn}`;
  const archive = await storage.archiveTurns.executeWithOptions({ summary: `archive ${turns}` }, [
    { channelId, fromTurn: range.fromTurn, throughTurn: range.throughTurn },
  ]);
  const summary = await llm.summariseTurns.executeWithOptions({ summary: `summarise ${turns}` }, [
    { agentId, channelId, archiveId: archive.archiveId, summaryFromTurn: range.summaryFromTurn },
  ]);
  const applied = await storage.applyCompaction.executeWithOptions({ summary: `swap ${turns} for the summary` }, [
    { agentId, channelId, archiveId: archive.archiveId, summary: summary.summary, model: summary.model },
  ]);
  // Reported usage is the truth where known; the estimate's difference is what the swap saved.
  const tokensAfter = Math.max(0, tokensBefore - (plan.contextTokens - applied.contextTokens));
  const result: CompactorResult = {
    outcome: applied.outcome === 'superseded' ? 'superseded' : 'compacted',
    fromTurn: range.fromTurn,
    throughTurn: range.throughTurn,
    turnsArchived: archive.turnCount,
    entriesArchived: archive.entryCount,
    tokensBefore,
    tokensAfter,
    archiveId: archive.archiveId,
    ...(applied.summaryId ? { summaryId: applied.summaryId } : {}),
    model: summary.model,
  };
  log.info('compaction finished', { channelId, outcome: result.outcome, fromTurn: range.fromTurn, throughTurn: range.throughTurn, tokensBefore, tokensAfter, contextWindow: input.contextWindow });
  return result;
}
