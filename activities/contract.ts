import type { ChannelKey, InboundMessage, ReplyRecord } from '../workflows/channel-contract.js';
import type { HeartbeatTarget } from '../workflows/heartbeat-contract.js';
import type { AttemptRecord } from '../lib/llm/fallback.js';

/**
 * The activities' signatures as the workflows see them. Workflows import this file for types only,
 * so no activity code (pg, SDKs) ever enters the workflow bundle.
 */

export interface ToolCall {
  id: string;
  name: string;
  input: Record<string, unknown>;
}

export interface TurnPosition {
  channelId: string;
  turnSeq: number;
  step: number;
}

/** One model tried during a callModel activity (type only: no LLM code enters the workflow bundle). */
export type ModelAttempt = AttemptRecord;

export interface ModelStep {
  text: string;
  toolCalls: ToolCall[];
  stopReason: string;
  /** The model that answered, `provider/model`. */
  model?: string;
  /** Every model tried in this activity attempt, in order (also heartbeated while running). */
  attempts?: ModelAttempt[];
  /** A one-off announcement for the conversation (a budget warning), delivered before the answer. */
  notice?: string;
}

export interface RecordInboundInput extends ChannelKey {
  channelId: string;
  turnSeq: number;
  messages: InboundMessage[];
}

export interface CallModelInput extends TurnPosition {
  agentId: string;
}

export interface DeliverReplyInput extends TurnPosition, ChannelKey {
  /** Stable within the turn: the tool call id, or a fixed name for plain text and errors. */
  key: string;
  text: string;
  kind: ReplyRecord['kind'];
  /** Platform message id of the message being answered. */
  replyTo?: string;
  /** Set when the reply came from a `reply` tool call: its result is written into the context. */
  toolCallId?: string;
  /** The call's index within its step; its result is stored beside the other tools' results. */
  toolCallIdx?: number;
}

export interface RunToolInput extends TurnPosition {
  agentId: string;
  /** Index of the call within the step, so results keep the model's order. */
  idx: number;
  call: ToolCall;
}

export interface ToolOutcome {
  content: string;
  isError: boolean;
}

export interface ChannelActivities {
  recordInbound(input: RecordInboundInput): Promise<void>;
  callModel(input: CallModelInput): Promise<ModelStep>;
  deliverReply(input: DeliverReplyInput): Promise<ReplyRecord>;
  runTool(input: RunToolInput): Promise<ToolOutcome>;
}

/** The failure type an LLM error carries; `details[0]` is the message for the user. */
export const LLM_FAILURE_TYPE_PREFIX = 'LlmError:';

// Heartbeats (workflows/heartbeat.ts, activities/heartbeat.ts).

export interface DeliverHeartbeatInput {
  scheduleId: string;
  heartbeatId: string;
  agentId: string;
  /** The run being delivered (workflow id and run id): the idempotency key of the delivery. */
  workflowId: string;
  runId: string;
  target: HeartbeatTarget;
  text: string;
  /** ISO time the run was scheduled for. */
  scheduledAt: string;
}

export interface DeliverHeartbeatResult {
  /** The outbound transcript message, for channel targets. */
  messageId?: string;
  /** HTTP status, for webhook targets. */
  status?: number;
}

export interface HeartbeatOutcomeInput {
  scheduleId: string;
  agentId: string;
  heartbeatId: string;
  runId: string;
  ok: boolean;
  error?: string;
}

export interface HeartbeatOutcome {
  consecutiveFailures: number;
  /** True when this failure paused the schedule (the circuit breaker opened). */
  paused: boolean;
}

export interface HeartbeatActivities {
  deliverHeartbeat(input: DeliverHeartbeatInput): Promise<DeliverHeartbeatResult>;
  recordHeartbeatOutcome(input: HeartbeatOutcomeInput): Promise<HeartbeatOutcome>;
}
