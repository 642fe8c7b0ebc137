import { defineQuery, defineUpdate } from '@temporalio/workflow';

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
  text: string;
  sender?: Sender;
  /** ISO time the gateway received it; set outside the workflow, so it is deterministic inside. */
  receivedAt: string;
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
}

/** Carried across continue-as-new: only what the next run needs. */
export interface ChannelState extends ChannelKey {
  turnSeq: number;
  /** Recent message ids, oldest first, bounded: deduplication across runs. */
  seen: string[];
  /** Messages accepted but not yet answered. */
  pending: InboundMessage[];
  /** Lowered in tests to force continue-as-new; else the config's value. */
  continueAsNewAfterTurns: number;
  maxLlmCallsPerTurn: number;
}

export const submitMessageUpdate = defineUpdate<SubmitMessageResult, [SubmitMessageInput]>('submitMessage');
export const statusQuery = defineQuery<ChannelStatus>('status');

export const MAX_MESSAGE_CHARS = 32_000;

/** Conversation and message ids as callers give them: what fits a workflow id and a URL path segment. */
export const EXTERNAL_ID_PATTERN = /^[A-Za-z0-9._:@-]{1,200}$/;
/** The rule behind EXTERNAL_ID_PATTERN, for validation messages ("conversation ids " + this). */
export const EXTERNAL_ID_RULE = 'use letters, digits and . _ : @ - (at most 200)';

export function channelWorkflowId(key: ChannelKey): string {
  return `channel:${key.agentId}:${key.platform}:${key.conversationId}`;
}
