import { defineSignal } from '@temporalio/workflow';
import type { Autonomy, ToolVerdict, WorkerToolPolicy } from './approval-policy.js';
import type { ToolCall } from '../activities/contract.js';

/**
 * Supervised workers and the approvals they wait for: the signal the API and the gateway send once an
 * approval is decided, and the activities' signatures as the workflows see them (types only, so no
 * database code enters the workflow bundle). The database row is the single record of the decision;
 * the signal only wakes the worker, which then reads the row (settleApproval).
 */

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'timed_out' | 'expired';

/** Sent to the worker's workflow by whoever decided an approval (API, CLI through the API, a reaction). */
export const approvalDecidedSignal = defineSignal<[{ id: string }]>('approvalDecided');

export interface WorkerStartInput {
  agentId: string;
  platform: string;
  /**
   * Who sent each message the turn answers (null: no sender given). Every one must be allowed; an
   * empty list is a turn no chat message started (one run on finished work).
   */
  senders: (string | null)[];
  /** The autonomy the gateway's binding set on those messages, if it overrides the agent's. */
  bindingAutonomies: Autonomy[];
}

export type WorkerStartPermit = { allowed: true; policy: WorkerToolPolicy } | { allowed: false; reason: string };

export interface RequestApprovalInput {
  agentId: string;
  /** The worker's workflow id: where the decision is signalled. */
  workerId: string;
  /** The worker's `worker/<n>`, for the notice. */
  workerRef: string;
  /** The channel the worker reports to, and its platform coordinates: where the notice goes. */
  channelId: string;
  platform: string;
  conversationId: string;
  /** Stable per call within the worker: the approval id derives from it, so a retry finds its row. */
  key: string;
  call: ToolCall;
}

export interface ApprovalRequested {
  id: string;
  timeoutMs: number;
}

export interface ApprovalActivities {
  checkWorkerStart(input: WorkerStartInput): Promise<WorkerStartPermit>;
  requestApproval(input: RequestApprovalInput): Promise<ApprovalRequested>;
  /** Marks a still-pending approval timed out (when `timedOut`) and returns the row's final status. */
  settleApproval(input: { id: string; timedOut: boolean }): Promise<ApprovalStatus>;
  /** The worker ended (`ended`: how) with approvals still pending: they expire now, not at their deadline. */
  expireWorkerApprovals(input: { workerId: string; ended: 'cancelled' | 'timed_out' | 'failed' }): Promise<void>;
  /**
   * Whether the agent's tool policy allows a tool the channel workflow carries out itself (branch,
   * route, cancel): the model may call one it was never offered.
   */
  checkChannelTool(input: { agentId: string; tool: string }): Promise<ToolVerdict>;
}
