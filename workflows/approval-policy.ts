/**
 * The pure core of the tool policy, shared by the workflows (which may import nothing from lib/) and
 * lib/policy/: autonomy levels, which tools write, the verdict on one call, and what the model reads
 * when a call did not run.
 *
 * Autonomy: how much a worker may change on its own. `full`: its tools run as called (the sandbox is
 * what makes that safe); `supervised`: each shell command and file write or edit waits for an
 * operator's approval; `readonly`: no shell and no writes at all.
 */
export const AUTONOMY_LEVELS = ['readonly', 'supervised', 'full'] as const;
export type Autonomy = (typeof AUTONOMY_LEVELS)[number];
export const DEFAULT_AUTONOMY: Autonomy = 'full';

/** Tools that change the workspace or run programs: gone in readonly, gated in supervised. */
export const WRITE_TOOLS: readonly string[] = ['shell', 'file_write', 'file_edit'];

/**
 * How a process ends a turn or reports: never filtered, or a channel could not answer and a worker
 * could not report its outcome.
 */
export const CONTROL_TOOLS: readonly string[] = ['reply', 'skip', 'set_status'];

export function isWriteTool(name: string): boolean {
  return WRITE_TOOLS.includes(name);
}

/** The more restrictive of the levels (readonly < supervised < full). */
export function strictest(levels: readonly Autonomy[]): Autonomy {
  let best: Autonomy = 'full';
  for (const level of levels) if (AUTONOMY_LEVELS.indexOf(level) < AUTONOMY_LEVELS.indexOf(best)) best = level;
  return best;
}

/** The agent's allow/deny lists (lib/policy/config.ts). */
export interface ToolLists {
  /** Undefined: every tool (except denied ones). */
  toolsAllow?: string[];
  toolsDeny: string[];
}

/**
 * What a worker may do, fixed when it starts (the workflow checks every call against it, whichever
 * activity would run the tool): its autonomy and the agent's allow/deny lists at that moment.
 */
export interface WorkerToolPolicy extends ToolLists {
  autonomy: Autonomy;
}

export type ToolVerdict = { allowed: true } | { allowed: false; reason: string };

/**
 * Whether an agent's process may have a tool at the given autonomy: used both to build the tool set
 * offered to the model and again when a call is carried out (a model can name a tool it was never
 * offered). The reason is written for the model, which reads it as the tool's result.
 */
export function toolVerdict(lists: ToolLists, autonomy: Autonomy, name: string): ToolVerdict {
  if (CONTROL_TOOLS.includes(name)) return { allowed: true };
  if (autonomy === 'readonly' && isWriteTool(name)) {
    return { allowed: false, reason: `${name} is not available: this agent is read-only (autonomy "readonly": no shell, no file writes or edits).` };
  }
  if (lists.toolsDeny.includes(name)) return { allowed: false, reason: `${name} is not available: the operator denied it for this agent (tools_deny).` };
  if (lists.toolsAllow && !lists.toolsAllow.includes(name)) {
    return { allowed: false, reason: `${name} is not available: it is not among the tools the operator allows for this agent (tools_allow).` };
  }
  return { allowed: true };
}

/** What the model reads as the tool's result when an approval did not allow the call. */
export function refusalText(tool: string, status: 'denied' | 'timed_out' | 'expired', timeoutMs: number): string {
  if (status === 'timed_out') {
    return `Approval timed out: nobody approved ${tool} within ${Math.max(1, Math.round(timeoutMs / 60_000))} min, so it was not run (treated as denied).`;
  }
  return `Denied by the operator: ${tool} was not run. Do not retry it; continue without it or report that you could not.`;
}
