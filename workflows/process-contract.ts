import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { WorkerToolPolicy } from './approval-policy.js';

/**
 * Branches and workers: the channel's child processes. A branch thinks about a question with a copy
 * of the channel's context and returns a conclusion; a worker carries out a task with a fresh context
 * and task tools. Both run as child workflows whose ids derive from the channel's, and report back
 * to the channel by signal (by workflow id, so a channel that continued as new still hears them).
 */

export type ProcessKind = 'branch' | 'worker';
export type ProcessState = 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled';

/** `<channel id>/branch/<n>` or `<channel id>/worker/<n>`: the Temporal UI groups them by prefix. */
export function processWorkflowId(channelId: string, kind: ProcessKind, n: number): string {
  return `${channelId}/${kind}/${n}`;
}

/** What both kinds of child share. */
export interface ProcessStart {
  agentId: string;
  /** The channel workflow's id: where signals go. */
  parentId: string;
  /** The child's own workflow id; also the key of its context in the database. */
  id: string;
  n: number;
  platform: string;
  conversationId: string;
  /** Routing task type (e.g. `coding`), chosen by the channel model. */
  taskType?: string;
  maxLlmCalls: number;
}

export interface BranchInput extends ProcessStart {
  question: string;
  /** The channel's last turn at fork time: the branch's context is a copy of it up to here. */
  forkTurn: number;
}

export interface WorkerInput extends ProcessStart {
  task: string;
  /** A bounded summary of what the channel knows that the task needs. */
  brief?: string;
  /** Interactive workers wait for follow-ups routed from the channel after each round. */
  interactive: boolean;
  /** Wall-clock limit of the whole worker. */
  timeLimitMs: number;
  /** Where the worker's tool activities run (their own task queue). */
  toolsTaskQueue: string;
  /** Autonomy and tool lists fixed at the start (docs/security.md); absent in workers started before policies. */
  toolPolicy?: WorkerToolPolicy;
}

/** A child's progress, signalled to the channel: tool calls so far and the latest `set_status`. */
export interface ProcessProgress {
  id: string;
  toolCalls: number;
  status?: string;
  /** An interactive worker finished a round and waits for a follow-up: report its outcome now. */
  roundOutcome?: string;
}

export interface ProcessOutcome {
  id: string;
  state: 'completed' | 'failed' | 'cancelled';
  /** The branch's conclusion, the worker's outcome, or what went wrong. */
  result: string;
  /** Tool calls made in all (progress signals are throttled, so the last count comes here). */
  toolCalls?: number;
}

export interface ProcessResult {
  state: ProcessOutcome['state'];
  result: string;
  llmCalls: number;
  toolCalls: number;
}

/** One running or recently finished child, as the channel tracks it (and carries across continue-as-new). */
export interface ProcessRecord {
  id: string;
  kind: ProcessKind;
  n: number;
  task: string;
  startedAt: string;
  state: ProcessState;
  toolCalls: number;
  status?: string;
  result?: string;
  finishedAt?: string;
  interactive?: boolean;
  /** The outcome is in the channel's context (a results turn ran on it). */
  reported: boolean;
}

export const processProgressSignal = defineSignal<[ProcessProgress]>('processProgress');
export const processFinishedSignal = defineSignal<[ProcessOutcome]>('processFinished');
/** A follow-up message for an interactive worker (the channel's `route` tool). */
export const followUpSignal = defineSignal<[{ text: string }]>('followUp');
export const processStatusQuery = defineQuery<{ state: ProcessState; llmCalls: number; toolCalls: number; status?: string }>('processStatus');

/** Running, or an interactive worker waiting for a follow-up: it holds one of its kind's slots. */
export function isActive(p: Pick<ProcessRecord, 'state'>): boolean {
  return p.state === 'running' || p.state === 'waiting';
}
