import type { ChannelKey, InboundMessage, ReplyRecord } from '../workflows/channel-contract.js';
import type { HeartbeatTarget } from '../workflows/heartbeat-contract.js';
import type { AttemptRecord } from '../lib/llm/fallback.js';
import type { Autonomy } from '../workflows/approval-policy.js';
import type { ProcessRecord } from '../workflows/process-contract.js';

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
  /** Tokens the context took in this call (input + cache reads + cache writes), for compaction. */
  contextTokens?: number;
  /** The answering model's context window in tokens. */
  contextWindow?: number;
}

/** Which kind of process makes an LLM call: it picks the prompt, the tools and the route. */
export type CallingProcess = 'channel' | 'branch' | 'worker';

export interface RecordInboundInput extends ChannelKey {
  channelId: string;
  turnSeq: number;
  messages: InboundMessage[];
  /** Messages steered into a running turn land after LLM call `step` (default 0: the turn's start). */
  step?: number;
  /** First context index to use (steered messages follow that step's tool results). */
  idxBase?: number;
}

export interface CallModelInput extends TurnPosition {
  agentId: string;
  /** Absent means channel (histories recorded before branches and workers). */
  process?: CallingProcess;
  taskType?: string;
  /** The channel's status block (running workers and branches), rendered after the conversation. */
  status?: string;
  /** Platform coordinates, for the typing indicator while a channel call runs. */
  platform?: string;
  conversationId?: string;
  /** Platform message id the turn answers: a streamed reply's draft is posted as a reply to it. */
  replyTo?: string;
  /** The channel a branch or worker belongs to: the ledger attributes its cost there. */
  parentId?: string;
  /** A worker's autonomy, fixed at its start (lib/policy/autonomy.ts); absent: the agent's. */
  autonomy?: Autonomy;
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
  /** Absent means channel. */
  process?: CallingProcess;
  /** The channel a branch or worker belongs to (its transcript, its scope for memories). */
  parentId?: string;
  platform?: string;
  conversationId?: string;
  /** The platform message the turn answers: the `react` tool's target. */
  triggerMessageId?: string;
  /** The user who sent it: the scope of user memories. */
  userId?: string;
}

/** A user- or tool-role entry the workflow puts in a context (task, question, results, nudges). */
export interface ContextEntryInput {
  turnSeq: number;
  step: number;
  idx: number;
  role: 'user' | 'tool';
  /** A user message's text, or a tool result's content. */
  text: string;
  /** For tool results: the call answered. */
  toolCallId?: string;
  isError?: boolean;
}

/** Registers a branch's or worker's own context key (a `channels` row linked to its parent). */
export interface ProcessRegistration {
  agentId: string;
  platform: string;
  conversationId: string;
  parentId: string;
  process: CallingProcess;
}

export interface RecordContextInput {
  channelId: string;
  entries: ContextEntryInput[];
  register?: ProcessRegistration;
}

export interface ForkContextInput {
  register: ProcessRegistration;
  fromChannelId: string;
  toId: string;
  /** Copy the channel's context up to and including this turn. */
  throughTurn: number;
}

export interface ToolOutcome {
  content: string;
  isError: boolean;
}

/**
 * A worker's shell or file tool call for the tools task queue (`runWorkspaceTool`): everything the
 * call needs travels with it, so the process running it needs no database (the workflow records the
 * result itself).
 */
export interface RunWorkspaceToolInput {
  agentId: string;
  /** The conversation the worker works for (the tools' context; no database access). */
  channelId: string;
  call: ToolCall;
}

/** Registered on the tools task queue; see activities/run-workspace-tool.ts. */
export interface WorkspaceToolActivities {
  runWorkspaceTool(input: RunWorkspaceToolInput): Promise<ToolOutcome>;
}

export interface ChannelActivities {
  recordInbound(input: RecordInboundInput): Promise<void>;
  callModel(input: CallModelInput): Promise<ModelStep>;
  deliverReply(input: DeliverReplyInput): Promise<ReplyRecord>;
  runTool(input: RunToolInput): Promise<ToolOutcome>;
  recordContext(input: RecordContextInput): Promise<void>;
  forkContext(input: ForkContextInput): Promise<{ copied: number }>;
}

// Recovery of a closed channel run (workflows/channel-recovery.ts, activities/recover-channel.ts).

export interface RecoverChannelInput extends ChannelKey {
  channelId: string;
  /** Message ids to remember for deduplication, at most (the workflow's SEEN_LIMIT). */
  seenLimit: number;
  /** Unanswered messages to bring back, at most (the channel's pending bound). */
  maxPending: number;
}

/** What a fresh run of a channel learns from the database and Temporal about the runs before it. */
export interface RecoveredChannel {
  /** The last turn any earlier run recorded anything at; the next turn is one after it. */
  turnSeq: number;
  /** Recent inbound message ids already in the transcript, oldest first. */
  seen: string[];
  /**
   * Messages accepted but never answered, oldest first: those of a turn that was cut off (already in
   * the transcript: `recorded`), then those still waiting in inbound_bodies.
   */
  pending: InboundMessage[];
  /** Branches and workers an earlier run started that still run: they report to this run. */
  processes: ProcessRecord[];
  /** The highest n any earlier child had: new children get fresh ids. */
  processSeq: number;
  /** Replies recorded but never posted (the run closed while delivering): delivered again by key. */
  undelivered: DeliverReplyInput[];
}

export interface ChannelRecoveryActivities {
  recoverChannel(input: RecoverChannelInput): Promise<RecoveredChannel>;
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

// Ingestion (workflows/ingestion.ts, activities/ingestion.ts).

export interface IngestFileRef {
  agentId: string;
  fileSha256: string;
  filename: string;
  source: 'upload' | 'folder';
}

export interface IngestCounts {
  chunksDone: number;
  chunksSkipped: number;
  memoriesSaved: number;
}

export interface IngestChunkInput extends IngestFileRef {
  seq: number;
  chunksTotal: number;
  /** The workflow's counts before this chunk: the activity writes the counts after it, absolute (idempotent). */
  before: IngestCounts;
}

export interface IngestChunkOutcome {
  /** The agent had already ingested a chunk with this hash: no LLM call was made. */
  skipped: boolean;
  memoriesSaved: number;
}

export interface FinishIngestionInput extends IngestFileRef {
  progress: IngestCounts & { phase: 'done' | 'failed'; chunksTotal?: number; error?: string };
}

export interface IngestionActivities {
  prepareIngestion(input: IngestFileRef): Promise<{ chunksTotal: number }>;
  ingestChunk(input: IngestChunkInput): Promise<IngestChunkOutcome>;
  finishIngestion(input: FinishIngestionInput): Promise<void>;
}

// The cortex (workflows/cortex.ts, activities/cortex.ts): one maintenance pass = these steps in order.

export interface CortexStepInput {
  agentId: string;
  /** Unique per pass: a retried step of the same pass answers with its first result. */
  passKey: string;
  /** ISO time of the pass (the workflow's clock), so every step of a pass sees the same "now". */
  now: string;
  /** The cortex's interval: the time decay assumes for an agent's first pass. */
  intervalMinutes?: number;
}

export interface RenderContextResult {
  /** Stored contexts re-rendered (the agent-wide one plus any user/chat ones in use). */
  contexts: number;
  /** How many of them changed. */
  changed: number;
  /** Memories and words in the agent-wide context. */
  memories: number;
  words: number;
  version: number;
}

/** Maintenance makes no LLM call (nothing here spends the agent's budget). */
export interface CortexActivities {
  /** `days`: the time decayed for (since the agent's previous decay); `at`: this pass's time. */
  decayMemories(input: CortexStepInput): Promise<{ decayed: number; days: number; at: string }>;
  pruneMemories(input: CortexStepInput): Promise<{ pruned: number; edgesRemoved: number }>;
  mergeMemories(input: CortexStepInput): Promise<{ merged: number; edgesRepointed: number }>;
  linkMemories(input: CortexStepInput): Promise<{ linked: number }>;
  renderMemoryContext(input: CortexStepInput): Promise<RenderContextResult>;
}

// Compaction (workflows/compactor.ts, activities/compaction.ts, lib/compaction/).

/** Input of the compactor child workflow: summarise the oldest `fraction` of a channel's context turns. */
export interface CompactorInput {
  agentId: string;
  channelId: string;
  /** Share of the context's turns to summarise: the policy's fraction (0.3 at 80 %, 0.5 at 85 %). */
  fraction: number;
  /** The newest turn that may be compacted: the channel's last completed turn (never the running one). */
  throughTurn: number;
  /** The context's size as the provider reported it (input + cache tokens), when known. */
  usedTokens?: number;
  /** The channel model's context window, for the logs and the result. */
  contextWindow?: number;
}

export interface CompactorResult {
  /** compacted; nothing_to_compact (no whole completed turn to take); superseded (a truncation covered the range meanwhile). */
  outcome: 'compacted' | 'nothing_to_compact' | 'superseded';
  fromTurn?: number;
  throughTurn?: number;
  /** Turns and context rows moved to conversation_archives. */
  turnsArchived: number;
  entriesArchived: number;
  /** The context's size before (reported usage when given, else an estimate) and after (before minus the estimated saving). */
  tokensBefore: number;
  tokensAfter: number;
  archiveId?: string;
  summaryId?: string;
  /** `provider/model` that wrote the summary. */
  model?: string;
}

export interface PlanCompactionInput {
  agentId: string;
  channelId: string;
  fraction: number;
  throughTurn: number;
}

export interface CompactionPlan {
  /** Estimated tokens of the whole context (system prompt, tools, messages) when planned. */
  contextTokens: number;
  /** Null when no whole completed turn can be taken. */
  range: CompactionRangePlan | null;
}

export interface CompactionRangePlan {
  /** Turns fromTurn..throughTurn leave the context; the summariser reads summaryFromTurn..throughTurn. */
  fromTurn: number;
  summaryFromTurn: number;
  throughTurn: number;
  turns: number;
  entries: number;
  /** Estimated tokens of the turns taken. */
  tokens: number;
}

export interface ArchiveTurnsInput {
  channelId: string;
  fromTurn: number;
  throughTurn: number;
}

export interface ArchiveTurnsResult {
  archiveId: string;
  entryCount: number;
  turnCount: number;
}

export interface SummariseTurnsInput {
  agentId: string;
  channelId: string;
  archiveId: string;
  /** The oldest archived turn the summary covers (older archived turns had left the history window). */
  summaryFromTurn: number;
}

export interface SummariseTurnsResult {
  summary: string;
  /** `provider/model` that answered. */
  model: string;
  inputTokens: number;
  outputTokens: number;
}

export interface ApplyCompactionInput {
  agentId: string;
  channelId: string;
  archiveId: string;
  summary: string;
  model: string;
}

export interface ApplyCompactionResult {
  outcome: 'applied' | 'already_applied' | 'superseded';
  summaryId?: string;
  entriesRemoved: number;
  /** Estimated tokens of the whole context after the swap. */
  contextTokens: number;
}

/** Input of the truncate activity the channel runs at 95 % (no LLM call, no child workflow). */
export interface TruncateContextInput {
  agentId: string;
  channelId: string;
  /** Share of the context's turns to drop: the policy's TRUNCATE_FRACTION. */
  fraction: number;
  /** The newest turn that may be dropped: the channel's last completed turn. */
  throughTurn: number;
}

export interface TruncateContextResult {
  outcome: 'truncated' | 'already_truncated' | 'nothing_to_truncate';
  fromTurn?: number;
  throughTurn?: number;
  turnsRemoved: number;
  entriesRemoved: number;
  archiveId?: string;
  markerId?: string;
  /** Estimated tokens of the whole context before and after. */
  tokensBefore: number;
  tokensAfter: number;
}

export interface CompactionActivities {
  planCompaction(input: PlanCompactionInput): Promise<CompactionPlan>;
  archiveTurns(input: ArchiveTurnsInput): Promise<ArchiveTurnsResult>;
  summariseTurns(input: SummariseTurnsInput): Promise<SummariseTurnsResult>;
  applyCompaction(input: ApplyCompactionInput): Promise<ApplyCompactionResult>;
  truncateContext(input: TruncateContextInput): Promise<TruncateContextResult>;
}
