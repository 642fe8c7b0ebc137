import type { AgentPolicy } from './config.js';
import { isWriteTool, type Autonomy } from './autonomy.js';
import { CONTROL_TOOLS } from './tool-names.js';

/**
 * What a worker may do, fixed when it starts (the workflow checks every call against it, whichever
 * activity would run the tool): its autonomy and the agent's allow/deny lists at that moment.
 */
export interface WorkerToolPolicy {
  autonomy: Autonomy;
  toolsAllow?: string[];
  toolsDeny: string[];
}

export type ToolVerdict = { allowed: true } | { allowed: false; reason: string };

/**
 * Whether an agent's process may have a tool at the given autonomy: used both to build the tool set
 * offered to the model and again when a call is carried out (a model can name a tool it was never
 * offered). The reason is written for the model, which reads it as the tool's result.
 */
export function toolVerdict(policy: Pick<AgentPolicy, 'toolsAllow' | 'toolsDeny'>, autonomy: Autonomy, name: string): ToolVerdict {
  if (CONTROL_TOOLS.includes(name)) return { allowed: true };
  if (autonomy === 'readonly' && isWriteTool(name)) {
    return { allowed: false, reason: `${name} is not available: this agent is read-only (autonomy "readonly": no shell, no file writes or edits).` };
  }
  if (policy.toolsDeny.includes(name)) return { allowed: false, reason: `${name} is not available: the operator denied it for this agent (tools_deny).` };
  if (policy.toolsAllow && !policy.toolsAllow.includes(name)) {
    return { allowed: false, reason: `${name} is not available: it is not among the tools the operator allows for this agent (tools_allow).` };
  }
  return { allowed: true };
}

export function filterTools<T extends { name: string }>(tools: readonly T[], policy: Pick<AgentPolicy, 'toolsAllow' | 'toolsDeny'>, autonomy: Autonomy): T[] {
  return tools.filter((t) => toolVerdict(policy, autonomy, t.name).allowed);
}
