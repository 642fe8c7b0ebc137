import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ProcessRecord } from './process-contract.js';
import type { Autonomy } from './approval-policy.js';

/**
 * The channel workflow's public contract: what the API and adapters send in and read out. Kept in a
 * module of its own so callers import names and types without pulling in the workflow's body.
 */

export interface ChannelKey {
  agentId: string;
  platform: string;
  conversationId: string;
}

export interface Sender {
  id: string;
  name?: string;
}

export interface InboundMessage {
  /** The platform's message id (or one the API generated); the deduplication key. */
  messageId: string;
  /**
   * The body, in messages submitted before bodies were stored at intake (running workflows and
   * recorded histories still carry it). New messages leave it out and set `bodyStored`: the body is
   * in the inbound_bodies table (lib/channel/inbound-bodies.ts) and never travels through Temporal.
   */
  text?: string;
  /** The body was written to inbound_bodies at intake, keyed by channel workflow id and message id. */
  bodyStored?: boolean;
  sender?: Sender;
  /** ISO time the gateway received it; set outside the workflow, so it is deterministic inside. */
  receivedAt: string;
  /**
   * False in multi-user chats (guild channels, groups): bursts there are debounced into one turn.
   * Direct messages (and callers that do not say) start their turn at once.
   */
  isDirect?: boolean;
  /** Set by the gateway when the binding that routed the message overrides the agent's autonomy. */
  autonomy?: Autonomy;
  /**
   * Already in the transcript and the context: a turn of a closed run recorded it and was cut off
   * before answering (workflows/channel-recovery.ts). The turn that answers it does not record it again.
   */
  recorded?: boolean;
}

/**
 * What happens to messages that arrive while a turn runs. followup: one turn each, in order;
 * collect: all of them become the next turn; steer: they join the running turn at its next LLM
 * call; interrupt: the running turn is cancelled and a new one answers them.
 */
export const QUEUE_MODES = ['followup', 'collect', 'steer', 'interrupt'] as const;
export type QueueMode = (typeof QUEUE_MODES)[number];
export const DEFAULT_QUEUE_MODE: QueueMode = 'steer';

/** Per-channel limits and behaviour from the agent's config (fixed at the channel's start, carried across runs). */
export interface ChannelSettings {
  queueMode: QueueMode;
  maxBranches: number;
  maxWorkers: number;
  branchMaxLlmCalls: number;
  workerMaxLlmCalls: number;
  workerTimeLimitMs: number;
  toolsTaskQueue: string;
  /** Multi-user burst debounce: quiet window and the longest a burst may be held. */
  debounceMs: number;
  debounceMaxMs: number;
  /** Results of branches and workers landing within this window are answered in one turn. */
  resultCoalesceMs: number;
  /** Turns run on finished work, at most, between two user turns. */
  maxResultTurns: number;
  /** Plain text is not sent: the model must call `reply` (or `skip`); bare text is nudged. */
  requireReplyTool?: boolean;
  /**
   * Messages accepted but not yet answered, at most; past it the update is refused by its validator
   * (ChannelQueueFull): the API answers 429 with Retry-After, the gateway backs off and retries.
   * Absent in channels started before the bound: DEFAULT_MAX_PENDING_MESSAGES.
   */
  maxPendingMessages?: number;
}

export interface SubmitMessageInput {
  message: InboundMessage;
  /** Hold the update open until the message's turn has finished. */
  wait: boolean;
}

export interface ReplyRecord {
  /** Id of the outbound message in the transcript. */
  messageId: string;
  text: string;
  kind: 'reply' | 'error';
}

export interface SubmitMessageResult {
  messageId: string;
  duplicate: boolean;
  /**
   * queued: accepted, turn not awaited; completed: the turn ran (replies when still held in memory);
   * continued: the run is continuing as new before the turn ran; ask the next run.
   */
  status: 'queued' | 'completed' | 'continued';
  turnSeq?: number;
  replies?: ReplyRecord[];
}

export interface ChannelStatus {
  turnSeq: number;
  running: boolean;
  queued: number;
  completedTurns: number;
  queueMode?: QueueMode;
  runningProcesses?: number;
}

/** Carried across continue-as-new: only what the next run needs. */
export interface ChannelState extends ChannelKey {
  turnSeq: number;
  /** Recent message ids, oldest first, bounded: deduplication across runs. */
  seen: string[];
  /** Messages accepted but not yet answered: bounded (maxPendingMessages) and, for new messages, without text. */
  pending: InboundMessage[];
  /** Lowered in tests to force continue-as-new; else the config's value. */
  continueAsNewAfterTurns: number;
  maxLlmCallsPerTurn: number;
  /** Absent in channels started before branches and workers existed: defaults apply. */
  settings?: ChannelSettings;
  /** A queue mode set for this channel through the API, overriding the agent's. */
  queueModeOverride?: QueueMode;
  /** Running children and finished ones not yet reported to the conversation. */
  processes?: ProcessRecord[];
  /** Last n given to a branch or worker id. */
  processSeq?: number;
}

export const submitMessageUpdate = defineUpdate<SubmitMessageResult, [SubmitMessageInput]>('submitMessage');
export const statusQuery = defineQuery<ChannelStatus>('status');
/** The channel's branches and workers: running ones and those finished recently. */
export const processesQuery = defineQuery<ProcessRecord[]>('processes');
/** Overrides the agent's queue mode for this channel (null restores the agent's). */
export const setQueueModeUpdate = defineUpdate<{ queueMode: QueueMode }, [{ queueMode: QueueMode | null }]>('setQueueMode');
/** User-initiated stop of a branch or worker (by its workflow id); false when no such process runs. */
export const cancelProcessUpdate = defineUpdate<{ cancelled: boolean }, [{ id: string }]>('cancelProcess');

export const MAX_MESSAGE_CHARS = 32_000;

/** Default bound of a channel's pending queue (`[defaults] max_pending_messages`). */
export const DEFAULT_MAX_PENDING_MESSAGES = 50;
/**
 * Largest message envelope (the message without its text, as JSON, in UTF-8 bytes) and message id the
 * channel accepts: ids and senders as platforms give them fit many times over. With the queue bound
 * (at most MAX_PENDING_MESSAGES_LIMIT) and the bounded seen-id list they bound the continue-as-new
 * input by construction (test/security/conversation-flood-bounds.test.ts).
 */
export const MAX_ENVELOPE_BYTES = 2048;
export const MAX_MESSAGE_ID_CHARS = 256;
/** The largest `max_pending_messages` the config accepts. */
export const MAX_PENDING_MESSAGES_LIMIT = 200;
/** The failure type of a submitMessage update refused because the conversation's queue is full. */
export const QUEUE_FULL_FAILURE = 'ChannelQueueFull';

/** Conversation and message ids as callers give them: what fits a workflow id and a URL path segment. */
export const EXTERNAL_ID_PATTERN = /^[A-Za-z0-9._:@-]{1,200}$/;
/** The rule behind EXTERNAL_ID_PATTERN, for validation messages ("conversation ids " + this). */
export const EXTERNAL_ID_RULE = 'use letters, digits and . _ : @ - (at most 200)';

export function channelWorkflowId(key: ChannelKey): string {
  return `channel:${key.agentId}:${key.platform}:${key.conversationId}`;
}
