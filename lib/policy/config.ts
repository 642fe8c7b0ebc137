import { z } from 'zod';
import { AUTONOMY_LEVELS, DEFAULT_AUTONOMY, type Autonomy } from './autonomy.js';
import { CONTROL_TOOLS, KNOWN_TOOL_NAMES } from './tool-names.js';

/**
 * The agent's tool policy in spacebot.toml (`[[agents]]` keys, spread into its schema), and the
 * binding's `autonomy` override. See docs/security.md "Autonomy and tool policy".
 */

export const DEFAULT_APPROVAL_TIMEOUT_MINUTES = 10;

/** `<platform>:<user id>`, the platform as in channel ids (`telegram`, `discord-work`, ...). */
const platformUser = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,62}:[^\s:][^\s]{0,199}$/, 'expected "<platform>:<user id>", e.g. "telegram:123456" or "discord:80351110224678912"');
const toolName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'tool names: lowercase letters, digits and "_"');

export const autonomySchema = z.enum(AUTONOMY_LEVELS);

export const agentPolicyShape = {
  /** readonly: no shell, no writes; supervised: shell and writes wait for approval; full (default). */
  autonomy: autonomySchema.optional(),
  /** Only these tools are offered (reply, skip and set_status always are). */
  tools_allow: z.array(toolName).optional(),
  /** These tools are never offered nor run. */
  tools_deny: z.array(toolName).optional(),
  /** Who may start workers from a chat; absent: everyone. */
  worker_users: z.array(platformUser).optional(),
  /** Who may approve or deny by reacting on the platform. */
  approvers: z.array(platformUser).optional(),
  /** A pending approval is denied after this long. */
  approval_timeout_minutes: z.number().min(0.05).max(24 * 60).optional(),
};

export interface AgentPolicy {
  autonomy: Autonomy;
  /** Undefined: every tool (except denied ones). */
  toolsAllow?: string[];
  toolsDeny: string[];
  /** Undefined: everyone may start workers. */
  workerUsers?: string[];
  approvers: string[];
  approvalTimeoutMs: number;
}

type PolicyInput = { [K in keyof typeof agentPolicyShape]?: z.output<(typeof agentPolicyShape)[K]> };

/** Resolves and cross-checks the policy keys of `agents.<i>`; `fail` gets one line naming the key. */
export function resolveAgentPolicy(input: PolicyInput, at: string, fail: (message: string) => never): AgentPolicy {
  for (const key of ['tools_allow', 'tools_deny'] as const) {
    const names = input[key] ?? [];
    names.forEach((name, j) => {
      if (!KNOWN_TOOL_NAMES.includes(name)) fail(`"${at}.${key}.${j}": unknown tool "${name}"; known tools: ${KNOWN_TOOL_NAMES.join(', ')}`);
    });
  }
  const both = (input.tools_allow ?? []).find((name) => input.tools_deny?.includes(name));
  if (both) fail(`"${at}.tools_deny": "${both}" is in tools_allow too; list it in one of them`);
  const control = (input.tools_deny ?? []).find((name) => CONTROL_TOOLS.includes(name));
  if (control) fail(`"${at}.tools_deny": "${control}" cannot be denied (${CONTROL_TOOLS.join(', ')} are how a process answers and reports)`);
  return {
    autonomy: input.autonomy ?? DEFAULT_AUTONOMY,
    ...(input.tools_allow ? { toolsAllow: [...input.tools_allow] } : {}),
    toolsDeny: [...(input.tools_deny ?? [])],
    ...(input.worker_users ? { workerUsers: [...input.worker_users] } : {}),
    approvers: [...(input.approvers ?? [])],
    approvalTimeoutMs: Math.round((input.approval_timeout_minutes ?? DEFAULT_APPROVAL_TIMEOUT_MINUTES) * 60_000),
  };
}

/** The policy of an agent configured without any of the keys. */
export const DEFAULT_AGENT_POLICY: AgentPolicy = resolveAgentPolicy({}, 'agents', (m) => {
  throw new Error(m);
});
