import { Context } from '@temporalio/activity';
import type { RunWorkspaceToolInput, ToolOutcome } from './contract.js';
import { findAgent } from '../lib/config/load.js';
import type { SpacebotConfig } from '../lib/config/types.js';
import type { Logger } from '../lib/logger.js';
import { leakGuardFor, type LeakGuard } from '../lib/security/leak-guard.js';
import { describeInvalidInput, type Tool } from '../lib/tools/tool.js';
import { capOutput, makeWorkerTools } from '../lib/tools/workspace/index.js';
import { isWorkspaceTool } from '../workflows/workspace-tools.js';

/**
 * What the workspace-tool activity may hold: the config (its `[tools]` section and the agents'
 * workspaces) and a logger. Deliberately no database, provider registry or adapters: it runs in the
 * tools service (workers/tools.ts), the process whose shell a hostile user can steer.
 */
export interface WorkspaceToolDeps {
  config: SpacebotConfig;
  logger: Logger;
  /** Scrubs tool output; built from the config when absent. */
  leakGuard?: LeakGuard;
}

/**
 * Runs one shell or file tool call of a worker in the agent's workspace (sandboxed as `[tools]`
 * says) and returns its scrubbed, capped output. It writes nothing anywhere but the workspace: the
 * worker workflow records the result with its storage activity on the main queue. Like runTool, a
 * tool's own failure is an error result for the model, not a thrown error; only a cancellation throws.
 */
export function makeRunWorkspaceTool(deps: WorkspaceToolDeps) {
  const tools = makeWorkerTools(deps.config.tools);
  const guard = deps.leakGuard ?? leakGuardFor(deps.config);
  const maxBytes = deps.config.tools.maxOutputBytes;

  // Redacted first, then capped: a cut through the middle of a secret would leave its start behind.
  const outcome = (content: string, isError: boolean): ToolOutcome => ({ content: capOutput(guard.redact(content).text, maxBytes), isError });

  return async function runWorkspaceTool(input: RunWorkspaceToolInput): Promise<ToolOutcome> {
    const agent = findAgent(deps.config, input.agentId);
    if (!agent) return outcome(`Unknown agent ${input.agentId}.`, true);
    if (!isWorkspaceTool(input.call.name)) return outcome(`Unknown tool "${input.call.name}".`, true);
    const tool: Tool | undefined = tools.find((t) => t.name === input.call.name);
    // Offered by the worker, but left out here: this process has no working sandbox (its log says why).
    if (!tool) return outcome(`${input.call.name} is not available: the tools service cannot sandbox commands right now.`, true);
    const parsed = tool.input.safeParse(input.call.input);
    if (!parsed.success) return outcome(describeInvalidInput(tool, parsed.error), true);
    const ctx = Context.current();
    try {
      const output = await tool.run(parsed.data, {
        agentId: input.agentId,
        channelId: input.channelId,
        signal: ctx.cancellationSignal,
        workspace: agent.workspace,
        sandbox: deps.config.tools.sandbox,
        heartbeat: (details?: unknown) => ctx.heartbeat(details),
      });
      return outcome(output, false);
    } catch (err) {
      // A cancelled worker: let the cancellation surface, so the workflow sees the tool stopped.
      if (ctx.cancellationSignal.aborted) throw err;
      const message = guard.redact((err as Error).message).text;
      deps.logger.warn({ tool: tool.name, err: message }, 'tool failed');
      return outcome(`${tool.name} failed: ${message}`, true);
    }
  };
}
