import type { ToolsConfig } from '../../config/types.js';
import { toolDefinition, type Tool } from '../tool.js';
import { makeFileTools } from './file-tools.js';
import { makeShellTool } from './shell.js';

/**
 * The workers' task tools: shell and the file tools, all confined to the agent's workspace. `set_status`
 * is carried out by the worker workflow itself and is not part of this list.
 */

export { WorkspaceEscapeError, resolveInWorkspace, ensureWorkspace } from './confine.js';
export { capOutput, MAX_TOOL_OUTPUT_BYTES } from './output-cap.js';
export { SandboxUnavailableError, runShellCommand } from './shell.js';

/** Builds the worker tools with the `[tools]` settings (default timeout, output cap, sandbox). */
export function makeWorkerTools(config: Partial<ToolsConfig> = {}): readonly Tool[] {
  const files = makeFileTools({ maxOutputBytes: config.maxOutputBytes });
  const shell = makeShellTool({ defaultTimeoutSeconds: config.shellTimeoutSeconds, maxOutputBytes: config.maxOutputBytes, sandbox: config.sandbox });
  // Each tool's `run` is typed by its own schema; the list holds them as plain Tools, checked at call time.
  return [shell as Tool, files.fileRead as Tool, files.fileWrite as Tool, files.fileEdit as Tool, files.fileList as Tool];
}

/** With the defaults; the tool activity should prefer makeWorkerTools(config.tools). */
export const WORKER_TOOLS: readonly Tool[] = makeWorkerTools();

export const WORKER_TOOL_DEFINITIONS = WORKER_TOOLS.map(toolDefinition);

export function findWorkerTool(name: string, tools: readonly Tool[] = WORKER_TOOLS): Tool | undefined {
  return tools.find((t) => t.name === name);
}
