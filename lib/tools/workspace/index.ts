import type { ToolsConfig } from '../../config/types.js';
import { workspaceToolAccess } from '../../sandbox/access.js';
import type { Tool } from '../tool.js';
import { makeFileTools } from './file-tools.js';
import { makeShellTool } from './shell.js';
import { workerEgressExtras } from '../../net/sandbox-egress.js';

/**
 * The workers' task tools: shell and the file tools, all confined to the agent's workspace. `set_status`
 * is carried out by the worker workflow itself and is not part of this list.
 */

export { WorkspaceEscapeError, ensureWorkspace } from './confine.js';
export { capOutput, MAX_TOOL_OUTPUT_BYTES } from './output-cap.js';
export { SandboxUnavailableError, runShellCommand } from './shell.js';

/**
 * Builds the worker tools with the `[tools]` settings (default timeout, output cap, sandbox). Where the
 * sandbox cannot be had (and `none` was not chosen), shell, file_write and file_edit are left out:
 * reading and listing stay, confined in-process (./confined-files.ts).
 */
export function makeWorkerTools(config: Partial<ToolsConfig> = {}): readonly Tool[] {
  const files = makeFileTools({ maxOutputBytes: config.maxOutputBytes });
  // With a tools service (`[tools] service = "external"`) this process only offers the tools: the
  // service probes its own sandbox and refuses what it cannot confine (lib/runtime/tools-service.ts).
  const access =
    config.service === 'external' ? { shell: true } : workspaceToolAccess({ sandbox: config.sandbox ?? 'bwrap', allowUnsandboxedRoot: config.allowUnsandboxedRoot ?? false });
  const reading = [files.fileRead as Tool, files.fileList as Tool];
  if (!access.shell) return reading;
  // `network = "guarded"`: this process's egress proxy, bound into each sandbox (none running: no network at all).
  const sandboxExtras = config.network === 'guarded' ? workerEgressExtras() : undefined;
  const shell = makeShellTool({ defaultTimeoutSeconds: config.shellTimeoutSeconds, maxOutputBytes: config.maxOutputBytes, sandbox: config.sandbox, sandboxExtras, sandboxLimits: config.limits });
  // Each tool's `run` is typed by its own schema; the list holds them as plain Tools, checked at call time.
  return [shell as Tool, files.fileRead as Tool, files.fileWrite as Tool, files.fileEdit as Tool, files.fileList as Tool];
}
