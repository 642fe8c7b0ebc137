import { Context } from '@temporalio/activity';
import type { RunToolInput, ToolOutcome } from './contract.js';
import type { ActivityDeps } from './deps.js';
import { putEntry } from '../lib/channel/context-store.js';
import { runCronTool, type CronToolInput } from '../lib/heartbeats/cron-tool.js';
import { cronTool, findChannelTool } from '../lib/tools/channel-tools.js';
import { describeInvalidInput } from '../lib/tools/tool.js';

/** Output beyond this is cut (with a note) so one tool cannot flood the context. */
export const MAX_TOOL_OUTPUT_CHARS = 50_000;

/**
 * Runs one tool call and stores its result in the context. A tool's own failure (bad arguments, an
 * unknown tool, an error it reports) is returned to the model as an error result rather than thrown:
 * the model can correct itself, and Temporal retries only infrastructure failures.
 */
export function makeRunTool(deps: ActivityDeps) {
  return async function runTool(input: RunToolInput): Promise<ToolOutcome> {
    const outcome = await execute(input);
    await putEntry(deps.db, { channelId: input.channelId, turnSeq: input.turnSeq, step: input.step, idx: 1 + input.idx }, 'tool', {
      type: 'tool_result',
      toolCallId: input.call.id,
      content: outcome.content,
      isError: outcome.isError,
    });
    return outcome;
  };

  async function execute(input: RunToolInput): Promise<ToolOutcome> {
    const tool = findChannelTool(input.call.name);
    if (!tool) return { content: `Unknown tool "${input.call.name}".`, isError: true };
    const parsed = tool.input.safeParse(input.call.input);
    if (!parsed.success) return { content: describeInvalidInput(tool, parsed.error), isError: true };
    try {
      const output =
        tool.name === cronTool.name
          ? await runCronTool(deps, parsed.data as CronToolInput, input)
          : await tool.run(parsed.data, { agentId: input.agentId, channelId: input.channelId, signal: Context.current().cancellationSignal });
      return { content: capOutput(output), isError: false };
    } catch (err) {
      deps.logger.warn({ tool: tool.name, err: (err as Error).message }, 'tool failed');
      return { content: `${tool.name} failed: ${(err as Error).message}`, isError: true };
    }
  }
}

export function capOutput(text: string): string {
  if (text.length <= MAX_TOOL_OUTPUT_CHARS) return text;
  return `${text.slice(0, MAX_TOOL_OUTPUT_CHARS)}\n[output cut: ${text.length - MAX_TOOL_OUTPUT_CHARS} more characters not shown]`;
}
