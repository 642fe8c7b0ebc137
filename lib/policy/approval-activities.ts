import type { ActivityDeps } from '../../activities/deps.js';
import { makeDeliverReply } from '../../activities/deliver-reply.js';
import { findAgent } from '../config/load.js';
import type { ApprovalActivities, RequestApprovalInput, WorkerStartInput, WorkerStartPermit } from '../../workflows/approval-contract.js';
import { strictest } from './autonomy.js';
import { DEFAULT_AGENT_POLICY } from './config.js';
import { approvalIdFor, decide, expireForWorker, getApproval, insertApproval, setNoticeMessage } from './approval-store.js';
import { noticeText, summarizeCall } from './approval-text.js';
import { toolVerdict } from './tool-filter.js';
import { workerStartVerdict } from './worker-users.js';

/**
 * The activities behind worker permissions and approvals. They read the config as it is now, so an
 * operator's change applies to the next worker (and the next approval) without restarting channels.
 */
export function makeApprovalActivities(deps: ActivityDeps): ApprovalActivities {
  const deliverReply = makeDeliverReply(deps);
  return {
    async checkWorkerStart(input: WorkerStartInput): Promise<WorkerStartPermit> {
      const agent = findAgent(deps.config, input.agentId);
      const policy = agent?.policy ?? DEFAULT_AGENT_POLICY;
      const tool = toolVerdict(policy, policy.autonomy, 'spawn_worker');
      if (!tool.allowed) return { allowed: false, reason: `Not started: ${tool.reason}` };
      const senders = input.senders.length ? input.senders : [undefined];
      for (const sender of senders) {
        const who = workerStartVerdict(policy, input.platform, sender ?? undefined);
        if (!who.allowed) return who;
      }
      const lists = { ...(policy.toolsAllow ? { toolsAllow: policy.toolsAllow } : {}), toolsDeny: policy.toolsDeny };
      if (input.bindingAutonomies.length) return { allowed: true, policy: { autonomy: strictest(input.bindingAutonomies), ...lists } };
      if (input.senders.length) return { allowed: true, policy: { autonomy: policy.autonomy, ...lists } };
      // No message to read the binding from: the strictest level any binding of this agent sets wins.
      const kind = input.platform.split('-')[0];
      const overrides = deps.config.bindings.filter((b) => b.agent === input.agentId && b.platform === kind && b.autonomy).map((b) => b.autonomy!);
      return { allowed: true, policy: { autonomy: strictest([policy.autonomy, ...overrides]), ...lists } };
    },

    async requestApproval(input: RequestApprovalInput) {
      const agent = findAgent(deps.config, input.agentId);
      const timeoutMs = (agent?.policy ?? DEFAULT_AGENT_POLICY).approvalTimeoutMs;
      const id = approvalIdFor(input.key);
      const summary = summarizeCall(input.call);
      const row = await insertApproval(deps.db, {
        id,
        agent_id: input.agentId,
        worker_id: input.workerId,
        channel_id: input.channelId,
        platform: input.platform,
        conversation_id: input.conversationId,
        tool: input.call.name,
        summary,
        input: JSON.stringify(input.call.input),
        expires_at: new Date(Date.now() + timeoutMs),
      });
      if (row.notice_message_id === null) {
        // Posted like a reply of the channel (once per delivery key), so it shows in the transcript too.
        const text = noticeText({ id, agentId: input.agentId, workerRef: input.workerRef, call: input.call, timeoutMs });
        const key = `approval:${id}`;
        await deliverReply({ channelId: input.channelId, turnSeq: 0, step: 0, key, text, kind: 'reply', agentId: input.agentId, platform: input.platform, conversationId: input.conversationId });
        const delivery = await deps.db.selectFrom('deliveries').select('platform_message_id').where('key', '=', `${input.channelId}:0:0:${key}`).executeTakeFirst();
        if (delivery?.platform_message_id) await setNoticeMessage(deps.db, id, delivery.platform_message_id);
      }
      deps.logger.info({ agent: input.agentId, worker: input.workerId, approval: id, tool: input.call.name }, 'approval requested');
      return { id, timeoutMs: Math.max(0, new Date(row.expires_at).getTime() - Date.now()) };
    },

    async settleApproval({ id, timedOut }) {
      if (timedOut) await decide(deps.db, id, 'timed_out', null, { beforeDeadline: false });
      const row = await getApproval(deps.db, id);
      return row?.status ?? 'expired';
    },

    async expireWorkerApprovals({ workerId, ended }) {
      const ids = await expireForWorker(deps.db, workerId, `worker ${ended.replace('_', ' ')}`);
      if (ids.length) deps.logger.info({ worker: workerId, approvals: ids, ended }, 'pending approvals expired: their worker ended');
    },

    async checkChannelTool({ agentId, tool }) {
      const policy = findAgent(deps.config, agentId)?.policy ?? DEFAULT_AGENT_POLICY;
      return toolVerdict(policy, policy.autonomy, tool);
    },
  };
}
