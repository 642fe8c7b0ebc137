import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ChannelActivities, ModelStep, ToolCall, ToolOutcome } from '../activities/contract.js';
import { LLM_FAILURE_TYPE_PREFIX } from '../activities/contract.js';
import { LLM_OPTIONS, STORAGE_OPTIONS, TOOL_OPTIONS } from './activity-options.js';
import { BoundedSet } from './bounded-set.js';
import { endsTurn, replyTextOf } from './turn-tools.js';
import { WEBHOOK_PLATFORM } from './platforms.js';
import {
  MAX_MESSAGE_CHARS,
  channelWorkflowId,
  statusQuery,
  submitMessageUpdate,
  type ChannelState,
  type InboundMessage,
  type ReplyRecord,
  type SubmitMessageInput,
  type SubmitMessageResult,
} from './channel-contract.js';

/** Message ids remembered for deduplication (carried across continue-as-new). */
const SEEN_LIMIT = 2000;
/** Turns whose replies stay in memory for late `wait` callers; older ones are read from the database. */
const REPLY_MEMORY_TURNS = 32;
// Bookkeeping writes to our own database take milliseconds: they run as local activities (retried,
// recorded in history as markers) so a turn does not pay a server round trip for each of them.
const localStorage = proxyLocalActivities<ChannelActivities>(STORAGE_OPTIONS);

// Deliveries to a chat platform may wait out rate limits and outages: regular activities, visible
// and retried by the server. The webhook platform's delivery is a database write, so it runs locally.
const platformDelivery = proxyActivities<ChannelActivities>(STORAGE_OPTIONS);

const llm = proxyActivities<ChannelActivities>(LLM_OPTIONS);
const tools = proxyActivities<ChannelActivities>(TOOL_OPTIONS);

/**
 * One conversation. Messages arrive by update (usually update-with-start), are deduplicated by their
 * platform id and queued; the main loop runs one turn at a time. Handlers never wait on a turn unless
 * the caller asked to (`wait`), so intake never blocks.
 */
export async function channelWorkflow(initial: ChannelState): Promise<void> {
  const channelId = channelWorkflowId(initial);
  const seen = new BoundedSet(initial.seen, SEEN_LIMIT);
  const queue: InboundMessage[] = [...initial.pending];
  /** The turn each recent message was (or is being) answered in. */
  const messageTurn = new Map<string, number>();
  const turnReplies = new Map<number, ReplyRecord[]>();
  let turnSeq = initial.turnSeq;
  let completedTurnSeq = initial.turnSeq;
  let runningTurn: number | undefined;
  let turnsThisRun = 0;
  let draining = false;

  const isAnswered = (id: string): boolean => {
    if (queue.some((m) => m.messageId === id)) return false;
    const turn = messageTurn.get(id);
    return turn === undefined || turn <= completedTurnSeq;
  };

  const resultFor = (id: string, duplicate: boolean): SubmitMessageResult => {
    const turn = messageTurn.get(id);
    if (!isAnswered(id)) return { messageId: id, duplicate, status: draining ? 'continued' : 'queued', turnSeq: turn };
    return { messageId: id, duplicate, status: 'completed', turnSeq: turn, replies: turn === undefined ? undefined : turnReplies.get(turn) };
  };

  setHandler(
    submitMessageUpdate,
    async ({ message, wait }: SubmitMessageInput): Promise<SubmitMessageResult> => {
      const duplicate = seen.has(message.messageId);
      if (!duplicate) {
        seen.add(message.messageId);
        queue.push(message);
      }
      if (!wait) return { messageId: message.messageId, duplicate, status: 'queued', turnSeq: messageTurn.get(message.messageId) };
      await condition(() => draining || isAnswered(message.messageId));
      return resultFor(message.messageId, duplicate);
    },
    { validator: ({ message }: SubmitMessageInput) => validateInbound(message) },
  );

  setHandler(statusQuery, () => ({ turnSeq, running: runningTurn !== undefined, queued: queue.length, completedTurns: completedTurnSeq }));

  const shouldContinueAsNew = () => workflowInfo().continueAsNewSuggested || turnsThisRun >= initial.continueAsNewAfterTurns;

  const runTurn = async (batch: InboundMessage[]): Promise<void> => {
    const turn = ++turnSeq;
    runningTurn = turn;
    for (const m of batch) messageTurn.set(m.messageId, turn);
    const replies: ReplyRecord[] = [];
    turnReplies.set(turn, replies);
    const last = batch[batch.length - 1];
    const base = { channelId, turnSeq: turn, agentId: initial.agentId, platform: initial.platform, conversationId: initial.conversationId };
    await localStorage.recordInbound({ ...base, messages: batch });

    const deliver = async (step: number, key: string, text: string, kind: ReplyRecord['kind'], toolCallId?: string, toolCallIdx?: number) => {
      const input = { ...base, step, key, text, kind, replyTo: last?.messageId, toolCallId, toolCallIdx };
      const reply =
        initial.platform === WEBHOOK_PLATFORM
          ? await localStorage.deliverReply(input)
          : await platformDelivery.deliverReply.executeWithOptions({ summary: `deliver ${kind}: ${preview(text)}` }, [input]);
      replies.push(reply);
    };

    try {
      for (let step = 1; step <= initial.maxLlmCallsPerTurn; step++) {
        const result: ModelStep = await llm.callModel.executeWithOptions({ summary: `LLM call ${step} of turn ${turn}` }, [{ ...base, step }]);
        // Replay-safe: histories recorded before budgets have no notice, so no new command appears in them.
        if (result.notice) await deliver(step, 'notice', result.notice, 'reply');
        if (result.text.trim()) await deliver(step, 'text', result.text, 'reply');
        if (result.toolCalls.length === 0) break;
        await Promise.all(
          result.toolCalls.map((call, idx): Promise<unknown> => {
            const replyText = replyTextOf(call);
            if (replyText !== undefined) return deliver(step, `tool:${call.id}`, replyText, 'reply', call.id, idx);
            return runTool(base, step, idx, call);
          }),
        );
        if (endsTurn(result.toolCalls)) break;
        if (step === initial.maxLlmCallsPerTurn) log.warn('turn reached its LLM call limit', { turn, limit: step });
      }
    } catch (err) {
      await deliver(0, 'error', userMessageFor(err), 'error');
    } finally {
      runningTurn = undefined;
      completedTurnSeq = turn;
      turnsThisRun++;
      forgetOldTurns(turn);
    }
  };

  const forgetOldTurns = (turn: number) => {
    turnReplies.delete(turn - REPLY_MEMORY_TURNS);
    for (const [id, t] of messageTurn) if (t <= turn - REPLY_MEMORY_TURNS) messageTurn.delete(id);
  };

  for (;;) {
    await condition(() => queue.length > 0 || shouldContinueAsNew());
    if (shouldContinueAsNew()) break;
    // Follow-up mode: each queued message gets its own turn, in arrival order.
    await runTurn(queue.splice(0, 1));
  }

  // Let in-flight updates finish (waiters of queued messages get 'continued' and ask the next run),
  // then carry only the ids, counters and unanswered messages into a fresh history.
  draining = true;
  await condition(allHandlersFinished);
  await continueAsNew<typeof channelWorkflow>({ ...initial, turnSeq, seen: seen.toArray(), pending: queue });
}

function runTool(base: { channelId: string; turnSeq: number; agentId: string }, step: number, idx: number, call: ToolCall): Promise<ToolOutcome> {
  return tools.runTool.executeWithOptions({ summary: `tool ${call.name}` }, [{ ...base, step, idx, call }]);
}

function validateInbound(message: InboundMessage): void {
  if (!message || typeof message.messageId !== 'string' || !message.messageId) throw new Error('message.messageId is required');
  if (typeof message.text !== 'string' || !message.text.trim()) throw new Error('message.text must be a non-empty string');
  if (message.text.length > MAX_MESSAGE_CHARS) throw new Error(`message.text is longer than ${MAX_MESSAGE_CHARS} characters`);
}

function preview(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}

/** What the user reads when a turn cannot be answered. Non-activity errors are bugs: let them fail the task. */
function userMessageFor(err: unknown): string {
  if (!(err instanceof ActivityFailure)) throw err;
  const cause = err.cause;
  if (cause instanceof ApplicationFailure && cause.type?.startsWith(LLM_FAILURE_TYPE_PREFIX)) {
    const detail = cause.details?.[0];
    return typeof detail === 'string' ? detail : cause.message;
  }
  if (cause instanceof TimeoutFailure) {
    return "Sorry, I can't answer right now: the language model did not respond in time after repeated tries. Please try again later.";
  }
  return `Sorry, something went wrong while answering (${cause?.message ?? err.message}).`;
}
