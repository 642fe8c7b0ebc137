import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { LLM_FAILURE_TYPE_PREFIX, type CallModelInput, type ModelStep } from './contract.js';
import type { ActivityDeps } from './deps.js';
import { findAgent } from '../lib/config/load.js';
import { loadContext, putEntry } from '../lib/channel/context-store.js';
import { type LlmError, toLlmError, userFacingMessage } from '../lib/llm/errors.js';
import type { CompletionResult } from '../lib/llm/types.js';
import { buildSystemPrompt } from '../lib/prompts/system-prompt.js';
import { CHANNEL_TOOL_DEFINITIONS } from '../lib/tools/channel-tools.js';

const HEARTBEAT_EVERY_MS = 2_000;

/**
 * One LLM call of a channel turn. Reads the context from the database (so the workflow never ships
 * transcripts around), calls the agent's model once, stores the answer at its position, records the
 * token usage, and returns only what the workflow needs to act: text and tool calls.
 */
export function makeCallModel(deps: ActivityDeps) {
  return async function callModel(input: CallModelInput): Promise<ModelStep> {
    const ctx = Context.current();
    const agent = findAgent(deps.config, input.agentId);
    if (!agent) throw ApplicationFailure.nonRetryable(`unknown agent ${input.agentId}`, 'UnknownAgent');
    const started = Date.now();
    // Heartbeats let Temporal notice a dead worker within the heartbeat timeout instead of waiting
    // out the whole start-to-close timeout of a slow model call.
    const beat = setInterval(() => ctx.heartbeat({ waitingMs: Date.now() - started }), HEARTBEAT_EVERY_MS);
    let result: CompletionResult;
    try {
      const provider = deps.providers.get(agent.model);
      const [system, messages] = await Promise.all([
        buildSystemPrompt(agent, 'channel'),
        loadContext(deps.db, input.channelId, input.turnSeq, input.step, deps.config.historyTurns),
      ]);
      result = await provider.complete({
        model: agent.model?.model ?? '',
        system,
        messages,
        tools: CHANNEL_TOOL_DEFINITIONS,
        maxOutputTokens: agent.maxOutputTokens,
        signal: ctx.cancellationSignal,
      });
    } catch (err) {
      throw toFailure(toLlmError(err, agent.model?.provider ?? 'llm'), ctx.info.attempt, deps);
    } finally {
      clearInterval(beat);
    }
    const latencyMs = Date.now() - started;
    await putEntry(deps.db, { channelId: input.channelId, turnSeq: input.turnSeq, step: input.step, idx: 0 }, 'assistant', {
      role: 'assistant',
      parts: [...(result.text ? [{ type: 'text' as const, text: result.text }] : []), ...result.toolCalls],
    });
    await deps.db
      .insertInto('llm_calls')
      .values({
        // One row per attempt that got an answer: a retried activity is a second billed call.
        call_key: `${input.channelId}:${input.turnSeq}:${input.step}:${ctx.info.attempt}`,
        agent_id: input.agentId,
        channel_id: input.channelId,
        process: 'channel',
        provider: agent.model?.provider ?? 'unknown',
        model: agent.model?.model ?? 'unknown',
        input_tokens: result.usage.inputTokens,
        output_tokens: result.usage.outputTokens,
        cache_read_tokens: result.usage.cacheReadTokens,
        cache_write_tokens: result.usage.cacheWriteTokens,
        latency_ms: latencyMs,
        stop_reason: result.stopReason,
      })
      .onConflict((oc) => oc.column('call_key').doNothing())
      .execute();
    return { text: result.text, toolCalls: result.toolCalls.map(({ id, name, input }) => ({ id, name, input })), stopReason: result.stopReason };
  };
}

/**
 * Hands the error to Temporal's retry policy: permanent errors are non-retryable and carry the
 * sentence the user will read; a rate limit sets the next retry to the provider's retry-after.
 */
function toFailure(err: LlmError, attempt: number, deps: ActivityDeps): ApplicationFailure {
  deps.logger.warn({ kind: err.kind, status: err.status, attempt, retryAfterMs: err.retryAfterMs, err: err.message }, 'LLM call failed');
  return ApplicationFailure.create({
    type: `${LLM_FAILURE_TYPE_PREFIX}${err.kind}`,
    message: err.message,
    nonRetryable: !err.retryable,
    details: [userFacingMessage(err)],
    nextRetryDelay: err.retryAfterMs !== undefined ? Math.max(err.retryAfterMs, 100) : undefined,
  });
}


