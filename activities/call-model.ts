import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { LLM_FAILURE_TYPE_PREFIX, type CallModelInput, type ModelAttempt, type ModelStep } from './contract.js';
import type { ActivityDeps } from './deps.js';
import { findAgent } from '../lib/config/load.js';
import { formatModelRef } from '../lib/config/types.js';
import { loadContext, putEntry } from '../lib/channel/context-store.js';
import { leakGuardOf, redactDeep, type LeakKind } from '../lib/security/leak-guard.js';
import { budgetLimits, checkBudget, takeBudgetWarning } from '../lib/costs/budget.js';
import { recordLlmCall } from '../lib/costs/ledger.js';
import { CooldownRegistry } from '../lib/llm/cooldowns.js';
import { type LlmError, scrubSecrets, toLlmError, userFacingMessage } from '../lib/llm/errors.js';
import { ChainFailure, completeWithFallback, type FallbackSuccess } from '../lib/llm/fallback.js';
import { openCallStream } from '../lib/streaming/call-stream.js';
import { resolveModels } from '../lib/llm/routing.js';
import { buildSystemPrompt } from '../lib/prompts/system-prompt.js';
import { contextWindowFor } from '../lib/compaction/context-window.js';
import { contextTokensOf } from '../lib/compaction/tokens.js';
import { loadMemoryContext } from '../lib/memory/context.js';
import { toolsFor } from '../lib/tools/process-tools.js';
import type { ChatMessage } from '../lib/llm/types.js';
import type { OutboundAdapters } from '../adapters/outbound.js';
import type { Logger } from '../lib/logger.js';

const HEARTBEAT_EVERY_MS = 2_000;
/** Platforms show typing for a few seconds per request: refresh it while a channel call runs. */
const TYPING_EVERY_MS = 5_000;
/** A retry never comes sooner than this, nor later than MAX_RETRY_DELAY_MS, when every model cools down. */
const MIN_RETRY_DELAY_MS = 1_000;
const MAX_RETRY_DELAY_MS = 10 * 60_000;
/** Room left at the end of the activity's start-to-close timeout for bookkeeping. */
const DEADLINE_MARGIN_MS = 2_000;

/** One cooldown registry per deps object (one per worker) when the caller did not inject one. */
const defaultCooldowns = new WeakMap<ActivityDeps, CooldownRegistry>();

function cooldownsFor(deps: ActivityDeps): CooldownRegistry {
  if (deps.cooldowns) return deps.cooldowns;
  let registry = defaultCooldowns.get(deps);
  if (!registry) defaultCooldowns.set(deps, (registry = new CooldownRegistry()));
  return registry;
}

/**
 * One LLM call of a channel turn, a branch or a worker. Reads the context from the database (so the
 * workflow never ships transcripts around), tries the process's model chain (primary, then
 * fallbacks; rate-limited models are skipped while they cool down), stores the answer at its
 * position, records the token usage of the model that answered, and returns only what the workflow
 * needs to act: text, tool calls, and how full the context is.
 */
export function makeCallModel(deps: ActivityDeps) {
  const cooldowns = cooldownsFor(deps);
  return async function callModel(input: CallModelInput): Promise<ModelStep> {
    const ctx = Context.current();
    const agent = findAgent(deps.config, input.agentId);
    if (!agent) throw ApplicationFailure.nonRetryable(`unknown agent ${input.agentId}`, 'UnknownAgent');
    const started = Date.now();
    const process = input.process ?? 'channel';
    const route = resolveModels(deps.config, { agent, process, task: input.taskType });
    if (route.skipped.length) deps.logger.debug({ agent: agent.id, skipped: route.skipped }, 'fallbacks left out as more expensive');
    // The hard stop: at a cap no LLM call is made, and the turn ends with the budget sentence. An
    // agent without caps skips the spending query, which would otherwise run on every LLM call.
    const limits = budgetLimits(deps.config, agent.id);
    const hasCaps = limits.dailyUsd !== undefined || limits.monthlyUsd !== undefined;
    if (hasCaps) {
      const budget = await checkBudget(deps.db, deps.config, agent.id);
      if (!budget.allowed && budget.message) {
        deps.logger.warn({ agent: agent.id, exceeded: budget.exceeded }, 'LLM call refused: budget reached');
        throw ApplicationFailure.create({ type: `${LLM_FAILURE_TYPE_PREFIX}budget`, message: budget.message, nonRetryable: true, details: [budget.message, []] });
      }
    }
    // Outside the provider error handling below: a database or prompt-file failure is ours, retried
    // as it is, and must never reach the user dressed up as a language model error.
    // Channels and branches see the agent's memory context (agent-wide and this chat's memories),
    // rendered by the cortex and byte-identical until memories change.
    const chatId = input.parentId ?? input.channelId;
    const [system, stored, memoryContext] = await Promise.all([
      buildSystemPrompt(agent, process),
      loadContext(deps.db, input.channelId, input.turnSeq, input.step, deps.config.historyTurns),
      process === 'worker' ? undefined : loadMemoryContext(deps.db, agent.id, { chatId }),
    ]);
    const messages = withStatusBlock(stored, input.status);
    const toolSet = toolsFor(deps.config, deps.db, agent, process, input.autonomy ?? agent.policy.autonomy);
    const stopTyping = process === 'channel' ? startTyping(deps.outbound, deps.logger, input.platform, input.conversationId) : () => undefined;
    let attempts: ModelAttempt[] = [];
    // Heartbeats let Temporal notice a dead worker within the heartbeat timeout instead of waiting
    // out the whole start-to-close timeout of a slow model call; they also show the attempts so far.
    const beat = () => ctx.heartbeat({ waitingMs: Date.now() - started, attempts });
    const timer = setInterval(beat, HEARTBEAT_EVERY_MS);
    let answer: FallbackSuccess;
    // Streams the answer to the platform (edit in place) or the webhook's SSE clients; undefined: no streaming.
    // Typing stops once the streamed answer shows.
    const stream = await openCallStream(deps, { ...input, process }, ctx.info.attempt, { onShown: stopTyping });
    const total = deps.config.routing.totalTimeoutMs;
    try {
      answer = await completeWithFallback({
        chain: route.models,
        providers: deps.providers,
        cooldowns,
        request: { system, systemContext: memoryContext, messages, tools: toolSet.definitions, maxOutputTokens: agent.maxOutputTokens, signal: ctx.cancellationSignal, onDelta: stream?.onDelta },
        onReset: stream?.onReset,
        // scheduledTimestampMs is the first attempt's schedule time: the budget spans Temporal's retries.
        total: { deadline: ctx.info.scheduledTimestampMs + total, timeoutMs: total },
        attemptTimeoutMs: deps.config.routing.attemptTimeoutMs,
        rateLimitCooldownMs: deps.config.routing.rateLimitCooldownMs,
        deadline: activityDeadline(ctx.info, started),
        onAttempt: (so) => {
          attempts = [...so];
          beat();
        },
      });
    } catch (err) {
      if (ctx.cancellationSignal.aborted) throw err;
      // No retry will take the drafts over: withdraw them (the workflow delivers the error instead).
      if (err instanceof ChainFailure && err.permanent) await stream?.finish({ text: '', toolCalls: [] });
      if (err instanceof ChainFailure) throw toFailure(err.error, err, ctx.info.attempt, deps);
      throw toFailure(toLlmError(err, route.models[0]?.provider ?? 'llm'), undefined, ctx.info.attempt, deps);
    } finally {
      clearInterval(timer);
      stopTyping();
    }
    const { model } = answer;
    // What the model wrote is stored as context and travels in history: redacted like tool output.
    // It could only hold a secret a user pasted (or one it made up), but neither may be kept or repeated;
    // streamed drafts were already redacted as they were shown.
    const found: LeakKind[] = [];
    const result = redactDeep(leakGuardOf(deps), answer.result, found);
    if (found.length) deps.logger.warn({ agent: agent.id, kinds: found }, 'a model answer held secrets; stored redacted');
    await stream?.finish(result);
    attempts = answer.attempts;
    if (attempts.length > 1) deps.logger.info({ agent: agent.id, model: formatModelRef(model), attempts }, 'LLM call answered by a fallback');
    const latencyMs = Date.now() - started;
    await putEntry(deps.db, { channelId: input.channelId, turnSeq: input.turnSeq, step: input.step, idx: 0 }, 'assistant', {
      role: 'assistant',
      parts: [...(result.text ? [{ type: 'text' as const, text: result.text }] : []), ...result.toolCalls],
    });
    const position = { channelId: input.channelId, turnSeq: input.turnSeq, step: input.step };
    const cost = await recordLlmCall(deps.db, deps.config, {
      // One row per activity attempt that got an answer: a retried activity, or one re-run after a
      // reset (a new run id), is another billed call; a repeated write of the same attempt is not.
      callKey: `${ctx.info.workflowExecution?.runId ?? input.channelId}:${ctx.info.activityId}:${ctx.info.attempt}`,
      agentId: input.agentId,
      // A branch's or worker's spending belongs to the conversation it works for.
      channelId: input.parentId ?? input.channelId,
      process,
      // The model that actually answered (a fallback, perhaps), not the configured primary.
      model,
      usage: result.usage,
      latencyMs,
      stopReason: result.stopReason,
    });
    if (cost.pricedByDefault) warnPricedByDefault(deps, formatModelRef(model));
    // Checked again after this call's cost is in the ledger: it may be the one that crosses the warning.
    const notice = hasCaps ? await takeBudgetWarning(deps.db, await checkBudget(deps.db, deps.config, agent.id), position) : undefined;
    return {
      text: result.text,
      toolCalls: result.toolCalls.map(({ id, name, input }) => ({ id, name, input })),
      stopReason: result.stopReason,
      model: formatModelRef(model),
      attempts,
      ...(notice ? { notice } : {}),
      contextTokens: contextTokensOf(result.usage),
      contextWindow: contextWindowFor(deps.config, model),
    };
  };
}

/**
 * The status block goes after the conversation, in the newest user message, so the cached prefix
 * (system, tools, older messages) stays byte-identical while workers report progress.
 */
export function withStatusBlock(messages: ChatMessage[], status: string | undefined): ChatMessage[] {
  const last = messages[messages.length - 1];
  if (!status || !last || last.role !== 'user') return messages;
  return [...messages.slice(0, -1), { role: 'user', parts: [...last.parts, { type: 'text', text: status }] }];
}

/** Shows typing on the conversation's platform until stopped; a failure to show it never fails the call. */
function startTyping(outbound: OutboundAdapters, logger: Logger, platform: string | undefined, conversationId: string | undefined): () => void {
  const adapter = platform ? outbound.get(platform) : undefined;
  if (!adapter?.typing || !conversationId) return () => undefined;
  const typing = adapter.typing.bind(adapter);
  const send = () => void typing(conversationId).catch((err: unknown) => logger.debug({ platform, err: (err as Error).message }, 'typing indicator failed'));
  send();
  const timer = setInterval(send, TYPING_EVERY_MS);
  return () => clearInterval(timer);
}

/** Models already logged as priced by the default price, so the log says it once per process. */
const pricedByDefaultLogged = new Set<string>();

function warnPricedByDefault(deps: ActivityDeps, model: string): void {
  if (pricedByDefaultLogged.has(model)) return;
  pricedByDefaultLogged.add(model);
  deps.logger.warn({ model }, 'no price known for this model: its calls are priced by [pricing.default] and flagged priced_by_default; add [pricing."<provider>/<model>"]');
}

/** When this activity attempt must be done: start-to-close and schedule-to-close, less a margin. */
function activityDeadline(info: Context['info'], started: number): number | undefined {
  const limits: number[] = [];
  if (info.startToCloseTimeoutMs > 0) limits.push(started + info.startToCloseTimeoutMs);
  if (info.scheduleToCloseTimeoutMs > 0) limits.push(info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs);
  return limits.length ? Math.min(...limits) - DEADLINE_MARGIN_MS : undefined;
}

/**
 * Hands the error to Temporal's retry policy: permanent errors are non-retryable and carry the
 * sentence the user will read; when every model is cooling down, the next retry waits for the
 * earliest to recover. details[0] is the user's sentence, details[1] the attempts.
 */
function toFailure(err: LlmError, chain: ChainFailure | undefined, attempt: number, deps: ActivityDeps): ApplicationFailure {
  const nonRetryable = chain ? chain.permanent : !err.retryable;
  const retryAfterMs = chain ? chain.retryAfterMs : err.retryAfterMs;
  const nextRetryDelay = nonRetryable || retryAfterMs === undefined ? undefined : Math.min(Math.max(retryAfterMs + 50, MIN_RETRY_DELAY_MS), MAX_RETRY_DELAY_MS);
  const message = scrubSecrets(err.message);
  deps.logger.warn({ kind: err.kind, status: err.status, attempt, nextRetryDelay, attempts: chain?.attempts, err: message }, 'LLM call failed');
  return ApplicationFailure.create({
    type: `${LLM_FAILURE_TYPE_PREFIX}${err.kind}`,
    message,
    nonRetryable,
    details: [userFacingMessage(err), chain?.attempts ?? []],
    nextRetryDelay,
  });
}
