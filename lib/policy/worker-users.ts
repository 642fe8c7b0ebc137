import { WEBHOOK_PLATFORM } from '../../workflows/platforms.js';
import type { AgentPolicy } from './config.js';

export type WorkerStartVerdict = { allowed: true } | { allowed: false; reason: string };

/**
 * Whether the message a turn answers may start a worker. Messages through the API (the webhook
 * platform) come from a holder of the API token, the operator, and always may. On a chat platform the
 * sender must be listed in `worker_users` as `<platform>:<user id>` when the list is set; a turn that
 * no chat message started (one run on finished work) may not, since nobody on the list asked for it.
 */
export function workerStartVerdict(policy: AgentPolicy, platform: string, senderId: string | undefined): WorkerStartVerdict {
  if (!policy.workerUsers || platform === WEBHOOK_PLATFORM) return { allowed: true };
  if (senderId === undefined) {
    return { allowed: false, reason: 'Not started: only the users the operator lists in worker_users may start workers, and no message from one of them started this turn. Ask the user to request it.' };
  }
  if (policy.workerUsers.includes(`${platform}:${senderId}`)) return { allowed: true };
  return { allowed: false, reason: 'Not started: this user may not start workers (the operator limits that to the users in worker_users). Tell the user you cannot run tasks for them.' };
}

/** Whether a platform user may approve or deny on the platform (by reaction). */
export function isApprover(policy: AgentPolicy, platform: string, userId: string): boolean {
  return policy.approvers.includes(`${platform}:${userId}`);
}
