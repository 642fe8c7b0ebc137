import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { InboundReaction } from '../../adapters/inbound.js';
import type { SpacebotConfig } from '../config/types.js';
import type { Database } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { findAgent } from '../config/load.js';
import { approvalDecidedSignal } from '../../workflows/approval-contract.js';
import { decide, findByNotice, getApproval, markExpired, type ApprovalRow } from './approval-store.js';
import { APPROVE_EMOJI, DENY_EMOJI } from './approval-text.js';
import { isApprover } from './worker-users.js';

export interface DecisionContext {
  config: SpacebotConfig;
  db: Kysely<Database>;
  temporal: Client;
  logger: Logger;
}

export type Decision = 'approved' | 'denied';
export type DecisionOutcome = { ok: true; row: ApprovalRow } | { ok: false; code: 'not_found' | 'conflict'; message: string };

/**
 * Decides an approval (API, CLI, reaction): the row changes only while pending and before its
 * deadline, so the first decision wins and a late one is refused; then the worker is woken to read
 * it. A worker that is gone leaves the approval expired.
 */
export async function decideApproval(ctx: DecisionContext, agentId: string, id: string, decision: Decision, by: string): Promise<DecisionOutcome> {
  const current = await getApproval(ctx.db, id);
  if (!current || current.agent_id !== agentId) return { ok: false, code: 'not_found', message: `agent "${agentId}" has no approval "${id}"` };
  const { changed, row } = await decide(ctx.db, id, decision, by, { beforeDeadline: true });
  if (!changed || !row) {
    const status = row?.status ?? current.status;
    const why = status === 'pending' ? 'its time ran out (the worker denies it as timed out)' : `it is already ${status.replace('_', ' ')}`;
    return { ok: false, code: 'conflict', message: `approval "${id}" cannot be decided: ${why}` };
  }
  try {
    await ctx.temporal.workflow.getHandle(row.worker_id).signal(approvalDecidedSignal, { id });
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    await markExpired(ctx.db, id);
    return { ok: false, code: 'conflict', message: `approval "${id}" cannot be decided: worker ${row.worker_id} is no longer running` };
  }
  ctx.logger.info({ agent: agentId, approval: id, decision, by }, 'approval decided');
  return { ok: true, row };
}

/**
 * A reaction on a platform: when it is ✅/👍 or ❌/👎 on the notice of a pending approval, by one of the
 * agent's `approvers`, it decides it. Anything else (another message, an unlisted user, a bot,
 * another emoji) is ignored: chat users are not trusted to approve.
 */
export async function decideByReaction(ctx: DecisionContext, reaction: InboundReaction): Promise<DecisionOutcome | undefined> {
  if (reaction.user.isBot) return undefined;
  // A skin tone does not change what a 👍 means (Discord and Slack send toned variants).
  const emoji = reaction.emoji.map((e) => e.replace(/[\u{1F3FB}-\u{1F3FF}]/gu, ''));
  const approve = emoji.some((e) => APPROVE_EMOJI.includes(e));
  const deny = emoji.some((e) => DENY_EMOJI.includes(e));
  if (approve === deny) return undefined;
  const row = await findByNotice(ctx.db, reaction.platform, reaction.conversationId, reaction.messageId);
  if (!row || row.status !== 'pending') return undefined;
  const policy = findAgent(ctx.config, row.agent_id)?.policy;
  if (!policy || !isApprover(policy, reaction.platform, reaction.user.id)) {
    ctx.logger.info({ agent: row.agent_id, approval: row.id, platform: reaction.platform, user: reaction.user.id }, 'reaction on an approval by a user who is not an approver: ignored');
    return undefined;
  }
  return decideApproval(ctx, row.agent_id, row.id, approve ? 'approved' : 'denied', `${reaction.platform}:${reaction.user.id}`);
}
