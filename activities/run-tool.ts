import { Context } from '@temporalio/activity';
import type { RunToolInput, ToolOutcome } from './contract.js';
import type { ActivityDeps } from './deps.js';
import { findAgent } from '../lib/config/load.js';
import { putEntry } from '../lib/channel/context-store.js';
import { runCronTool, type CronToolInput } from '../lib/heartbeats/cron-tool.js';
import { cronTool, reactTool } from '../lib/tools/channel-tools.js';
import { isMemoryTool, memoryToolKey, runMemoryTool } from '../lib/tools/memory-tools.js';
import { toolsFor } from '../lib/tools/process-tools.js';
import { toolVerdict } from '../lib/policy/tool-filter.js';
import { describeInvalidInput } from '../lib/tools/tool.js';
import { capOutput } from '../lib/tools/workspace/output-cap.js';
import { leakGuardOf } from '../lib/security/leak-guard.js';

/** Tools the workflows carry out themselves; reaching the activity with valid arguments means "not here". */
const WORKFLOW_TOOLS = new Set(['branch', 'spawn_worker', 'route', 'cancel', 'set_status']);

/**
 * Runs one tool call of a channel, branch or worker and stores its result in the caller's context. A
 * tool's own failure (bad arguments, an unknown tool, an error it reports) is returned to the model
 * as an error result rather than thrown: the model can correct itself, and Temporal retries only
 * infrastructure failures (and a cancelled worker's tool stops here, its shell command killed).
 */
export function makeRunTool(deps: ActivityDeps) {
  return async function runTool(input: RunToolInput): Promise<ToolOutcome> {
    // Redacted before it is stored (the context the model reads) and returned (the workflow history):
    // a key a shell command printed or a file held never reaches a model, a row or a timeline.
    const outcome = redactOutcome(await execute(input), input.call.name);
    await putEntry(deps.db, { channelId: input.channelId, turnSeq: input.turnSeq, step: input.step, idx: 1 + input.idx }, 'tool', {
      type: 'tool_result',
      toolCallId: input.call.id,
      content: outcome.content,
      isError: outcome.isError,
    });
    return outcome;
  };

  function redactOutcome(outcome: ToolOutcome, tool: string): ToolOutcome {
    const { text, kinds } = leakGuardOf(deps).redact(outcome.content);
    if (!kinds.length) return outcome;
    deps.logger.warn({ tool, kinds }, 'secrets redacted from a tool result');
    return { ...outcome, content: text };
  }

  async function execute(input: RunToolInput): Promise<ToolOutcome> {
    const agent = findAgent(deps.config, input.agentId);
    if (!agent) return { content: `Unknown agent ${input.agentId}.`, isError: true };
    const process = input.process ?? 'channel';
    // The agent's tool policy: a model can call a tool it was never offered.
    const policy = toolVerdict(agent.policy, agent.policy.autonomy, input.call.name);
    if (!policy.allowed) return { content: policy.reason, isError: true };
    const tool = toolsFor(deps.config, deps.db, agent, process).find(input.call.name);
    if (!tool) return { content: `Unknown tool "${input.call.name}".`, isError: true };
    const parsed = tool.input.safeParse(input.call.input);
    if (!parsed.success) return { content: describeInvalidInput(tool, parsed.error), isError: true };
    if (WORKFLOW_TOOLS.has(tool.name)) return { content: `${tool.name} is not available in this run.`, isError: true };
    // The conversation a branch or worker works for: its transcript, its chat scope for memories.
    const channelId = input.parentId ?? input.channelId;
    const ctx = Context.current();
    try {
      if (isMemoryTool(tool.name)) {
        const result = await runMemoryTool(tool.name, parsed.data, {
          db: deps.db,
          embedder: deps.embedder ?? null,
          agentId: input.agentId,
          channelId,
          userId: input.userId,
          messageId: input.triggerMessageId,
          callKey: memoryToolKey(input.channelId, input.turnSeq, input.step, input.idx, input.call.id),
        });
        return { content: result.content, isError: result.isError };
      }
      let output: string;
      if (tool.name === cronTool.name) output = await runCronTool(deps, parsed.data as CronToolInput, input);
      else if (tool.name === reactTool.name) output = await react(input, (parsed.data as { emoji: string }).emoji);
      else {
        output = await tool.run(parsed.data, {
          agentId: input.agentId,
          channelId,
          signal: ctx.cancellationSignal,
          workspace: agent.workspace,
          sandbox: deps.config.tools.sandbox,
          heartbeat: (details?: unknown) => ctx.heartbeat(details),
        });
      }
      return { content: capOutput(output, deps.config.tools.maxOutputBytes), isError: false };
    } catch (err) {
      // A cancelled worker: let the cancellation surface, so the workflow sees the tool stopped.
      if (ctx.cancellationSignal.aborted) throw err;
      deps.logger.warn({ tool: tool.name, err: (err as Error).message }, 'tool failed');
      return { content: `${tool.name} failed: ${(err as Error).message}`, isError: true };
    }
  }

  /** The `react` tool: an emoji on the message the turn answers, through the platform's adapter. */
  async function react(input: RunToolInput, emoji: string): Promise<string> {
    const adapter = input.platform ? deps.outbound.get(input.platform) : undefined;
    if (!adapter?.react || !input.conversationId) return `Reactions are not supported on ${input.platform ?? 'this platform'}.`;
    if (!input.triggerMessageId) return 'There is no message to react to in this turn.';
    await adapter.react(input.conversationId, input.triggerMessageId, emoji);
    return `Reacted with ${emoji}.`;
  }
}
