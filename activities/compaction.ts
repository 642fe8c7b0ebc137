import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  LLM_FAILURE_TYPE_PREFIX,
  type ApplyCompactionInput,
  type ApplyCompactionResult,
  type ArchiveTurnsInput,
  type ArchiveTurnsResult,
  type CompactionActivities,
  type CompactionPlan,
  type ModelAttempt,
  type PlanCompactionInput,
  type SummariseTurnsInput,
  type SummariseTurnsResult,
  type TruncateContextInput,
  type TruncateContextResult,
} from './contract.js';
import type { ActivityDeps } from './deps.js';
import { findAgent } from '../lib/config/load.js';
import { formatModelRef, type AgentConfig } from '../lib/config/types.js';
import { applySummary } from '../lib/compaction/apply.js';
import { archiveTurns, readArchive } from '../lib/compaction/archive.js';
import { BEFORE_FIRST_TURN, readEntries } from '../lib/compaction/entries.js';
import { estimateChannelContext } from '../lib/compaction/estimate.js';
import { chooseCompactionRange } from '../lib/compaction/plan.js';
import { latestSummary } from '../lib/compaction/summaries.js';
import { estimateTextTokens } from '../lib/compaction/tokens.js';
import { summariserInput } from '../lib/compaction/transcript.js';
import { truncateOldestTurns } from '../lib/compaction/truncate.js';
import { recordLlmCall } from '../lib/costs/ledger.js';
import { CooldownRegistry } from '../lib/llm/cooldowns.js';
import { scrubSecrets, toLlmError, type LlmError } from '../lib/llm/errors.js';
import { ChainFailure, completeWithFallback, type FallbackSuccess } from '../lib/llm/fallback.js';
import { resolveModels } from '../lib/llm/routing.js';
import { buildSystemPrompt } from '../lib/prompts/system-prompt.js';
import { CHANNEL_TOOL_DEFINITIONS } from '../lib/tools/channel-tools.js';

const HEARTBEAT_EVERY_MS = 2_000;
const DEADLINE_MARGIN_MS = 2_000;
/** Bounds of the summary's length: at most half of what it replaces, never less than a paragraph. */
const MIN_SUMMARY_TOKENS = 256;
const MAX_SUMMARY_TOKENS = 4_096;
const MIN_RETRY_DELAY_MS = 1_000;
const MAX_RETRY_DELAY_MS = 10 * 60_000;

/** The worker's cooldown registry when injected; else one per deps object, as callModel does. */
const ownCooldowns = new WeakMap<ActivityDeps, CooldownRegistry>();
function cooldownsFor(deps: ActivityDeps): CooldownRegistry {
  if (deps.cooldowns) return deps.cooldowns;
  let registry = ownCooldowns.get(deps);
  if (!registry) ownCooldowns.set(deps, (registry = new CooldownRegistry()));
  return registry;
}

function agentOf(deps: ActivityDeps, agentId: string): AgentConfig {
  const agent = findAgent(deps.config, agentId);
  if (!agent) throw ApplicationFailure.nonRetryable(`unknown agent ${agentId}: it is not in the configuration`, 'UnknownAgent');
  return agent;
}

/** The channel's context as its next LLM call would send it, estimated (see lib/compaction/tokens.ts). */
async function channelContextTokens(deps: ActivityDeps, agent: AgentConfig, channelId: string): Promise<number> {
  const system = await buildSystemPrompt(agent, 'channel');
  return estimateChannelContext(deps.db, channelId, deps.config.historyTurns, { system, tools: CHANNEL_TOOL_DEFINITIONS });
}

/** Activities of the compactor workflow, and the channel's truncation. */
export function makeCompactionActivities(deps: ActivityDeps): CompactionActivities {
  const cooldowns = cooldownsFor(deps);

  async function planCompaction(input: PlanCompactionInput): Promise<CompactionPlan> {
    const agent = agentOf(deps, input.agentId);
    const latest = await latestSummary(deps.db, input.channelId);
    const entries = await readEntries(deps.db, input.channelId, latest?.throughTurn ?? BEFORE_FIRST_TURN);
    const range = chooseCompactionRange({ entries, fraction: input.fraction, eligibleThrough: input.throughTurn, historyTurns: deps.config.historyTurns });
    const contextTokens = await channelContextTokens(deps, agent, input.channelId);
    deps.logger.info({ agent: agent.id, channel: input.channelId, fraction: input.fraction, range, contextTokens }, 'compaction planned');
    if (!range) return { contextTokens, range: null };
    const { fromTurn, summaryFromTurn, throughTurn, turns, entries: count, tokens } = range;
    return { contextTokens, range: { fromTurn, summaryFromTurn, throughTurn, turns, entries: count, tokens } };
  }

  async function archive(input: ArchiveTurnsInput): Promise<ArchiveTurnsResult> {
    const result = await archiveTurns(deps.db, input.channelId, input.fromTurn, input.throughTurn, 'summarise');
    deps.logger.info({ channel: input.channelId, fromTurn: input.fromTurn, throughTurn: input.throughTurn, ...result }, 'turns archived for compaction');
    return result;
  }

  async function summariseTurns(input: SummariseTurnsInput): Promise<SummariseTurnsResult> {
    const ctx = Context.current();
    const started = Date.now();
    const agent = agentOf(deps, input.agentId);
    const archived = await readArchive(deps.db, input.archiveId);
    if (!archived || archived.channelId !== input.channelId) {
      throw ApplicationFailure.nonRetryable(`archive ${input.archiveId} of channel ${input.channelId} does not exist: archiveTurns must run first`, 'ArchiveMissing');
    }
    // The summary this compaction builds on: the newest one before the archived range (a truncation
    // may have added a newer one meanwhile; this summary covers its turns too and replaces it).
    const previous = await latestSummary(deps.db, input.channelId, archived.fromTurn);
    const entries = archived.entries.filter((e) => e.turnSeq >= input.summaryFromTurn);
    const text = summariserInput(entries, previous?.content);
    const system = await buildSystemPrompt(agent, 'compactor');
    // The summarised text (previous summary and transcript) is what the summary replaces.
    const replaced = estimateTextTokens(text);
    const maxOutputTokens = Math.min(agent.maxOutputTokens, MAX_SUMMARY_TOKENS, Math.max(MIN_SUMMARY_TOKENS, Math.ceil(replaced / 2)));
    const route = resolveModels(deps.config, { agent, process: 'compactor' });
    let attempts: ModelAttempt[] = [];
    const beat = () => ctx.heartbeat({ waitingMs: Date.now() - started, attempts });
    const timer = setInterval(beat, HEARTBEAT_EVERY_MS);
    let answer: FallbackSuccess;
    try {
      answer = await completeWithFallback({
        chain: route.models,
        providers: deps.providers,
        cooldowns,
        request: { system, messages: [{ role: 'user', parts: [{ type: 'text', text }] }], tools: [], maxOutputTokens, signal: ctx.cancellationSignal },
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
      if (err instanceof ChainFailure) throw toFailure(deps, err.error, err);
      throw toFailure(deps, toLlmError(err, route.models[0]?.provider ?? 'llm'));
    } finally {
      clearInterval(timer);
    }
    const { result, model } = answer;
    const cost = await recordLlmCall(deps.db, deps.config, {
      callKey: `${ctx.info.workflowExecution?.runId ?? input.channelId}:${ctx.info.activityId}:${ctx.info.attempt}`,
      agentId: agent.id,
      channelId: input.channelId,
      process: 'compactor',
      model,
      usage: result.usage,
      latencyMs: Date.now() - started,
      stopReason: result.stopReason,
    });
    const summary = result.text.trim();
    if (!summary) {
      // Every model answered with nothing: retried by Temporal like any transient model failure.
      throw ApplicationFailure.create({ type: `${LLM_FAILURE_TYPE_PREFIX}empty`, message: `the compactor model ${formatModelRef(model)} returned an empty summary` });
    }
    deps.logger.info(
      { agent: agent.id, channel: input.channelId, model: formatModelRef(model), inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens, costUsd: cost.costUsd, stopReason: result.stopReason },
      'turns summarised',
    );
    return { summary, model: formatModelRef(model), inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens };
  }

  async function applyCompaction(input: ApplyCompactionInput): Promise<ApplyCompactionResult> {
    const info = Context.current().info;
    const agent = agentOf(deps, input.agentId);
    // One key per compactor run: a retry after the commit finds its row instead of applying twice.
    const compactionKey = `compactor:${workflowRunOf(info)}`;
    const applied = await applySummary(deps.db, { channelId: input.channelId, archiveId: input.archiveId, content: input.summary, model: input.model, compactionKey });
    if (applied.archiveRewritten) deps.logger.warn({ channel: input.channelId, rows: applied.archiveRewritten }, 'context rows changed after archiving: archive rewritten before the swap');
    const contextTokens = await channelContextTokens(deps, agent, input.channelId);
    deps.logger.info({ agent: agent.id, channel: input.channelId, ...applied, contextTokens }, 'compaction applied');
    return { outcome: applied.outcome, ...(applied.summaryId ? { summaryId: applied.summaryId } : {}), entriesRemoved: applied.entriesRemoved, contextTokens };
  }

  async function truncateContext(input: TruncateContextInput): Promise<TruncateContextResult> {
    const info = Context.current().info;
    const agent = agentOf(deps, input.agentId);
    const tokensBefore = await channelContextTokens(deps, agent, input.channelId);
    // The activity's identity within its workflow run: a retry must not drop a second half.
    const compactionKey = `truncate:${workflowRunOf(info)}:${info.activityId}`;
    const outcome = await truncateOldestTurns(deps.db, {
      channelId: input.channelId,
      fraction: input.fraction,
      eligibleThrough: input.throughTurn,
      historyTurns: deps.config.historyTurns,
      compactionKey,
    });
    const tokensAfter = await channelContextTokens(deps, agent, input.channelId);
    const log = { agent: agent.id, channel: input.channelId, ...outcome, tokensBefore, tokensAfter };
    if (outcome.outcome === 'truncated') deps.logger.warn(log, 'context truncated without a summary: it was nearly full');
    else deps.logger.info(log, 'context truncation skipped');
    return { ...outcome, tokensBefore, tokensAfter };
  }

  return { planCompaction, archiveTurns: archive, summariseTurns, applyCompaction, truncateContext };
}

/** `workflowId:runId` of the workflow that scheduled the activity: the base of idempotency keys. */
function workflowRunOf(info: Context['info']): string {
  const run = info.workflowExecution;
  if (!run) throw ApplicationFailure.nonRetryable('compaction activities must be scheduled by a workflow (their idempotency key is its run)', 'NoWorkflow');
  return `${run.workflowId}:${run.runId}`;
}

/** When this activity attempt must be done: start-to-close and schedule-to-close, less a margin. */
function activityDeadline(info: Context['info'], started: number): number | undefined {
  const limits: number[] = [];
  if (info.startToCloseTimeoutMs > 0) limits.push(started + info.startToCloseTimeoutMs);
  if (info.scheduleToCloseTimeoutMs > 0) limits.push(info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs);
  return limits.length ? Math.min(...limits) - DEADLINE_MARGIN_MS : undefined;
}

/** Permanent model errors end the compaction; transient ones are retried, after the earliest cooldown when every model cools down. */
function toFailure(deps: ActivityDeps, err: LlmError, chain?: ChainFailure): ApplicationFailure {
  const nonRetryable = chain ? chain.permanent : !err.retryable;
  const retryAfterMs = chain ? chain.retryAfterMs : err.retryAfterMs;
  const nextRetryDelay = nonRetryable || retryAfterMs === undefined ? undefined : Math.min(Math.max(retryAfterMs + 50, MIN_RETRY_DELAY_MS), MAX_RETRY_DELAY_MS);
  const message = scrubSecrets(err.message);
  deps.logger.warn({ kind: err.kind, status: err.status, attempts: chain?.attempts, nextRetryDelay, err: message }, 'compactor LLM call failed');
  return ApplicationFailure.create({ type: `${LLM_FAILURE_TYPE_PREFIX}${err.kind}`, message, nonRetryable, details: [message, chain?.attempts ?? []], nextRetryDelay });
}
