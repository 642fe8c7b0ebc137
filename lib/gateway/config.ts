import { z } from 'zod';
import { ADAPTER_KINDS } from '../../adapters/registry.js';
import { platformKey } from '../../adapters/platform-key.js';
import type { Autonomy } from '../policy/autonomy.js';
import { autonomySchema } from '../policy/config.js';

/**
 * The gateway's part of spacebot.toml:
 *
 * - `[adapters.<kind>.<instance>]`: one table per connected account, validated by its kind's schema
 *   (adapters/<kind>/config.ts) and built by adapters/registry.ts;
 * - `[[bindings]]`: which agent answers which platform coordinates, first match wins;
 * - `[gateway]`: what happens to a message no binding matches.
 */

const instanceName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,30}$/, 'instance names: lowercase letters, digits, "-" and "_", at most 31');
const platformId = z.union([z.number().int(), z.string().min(1).max(200)]).transform(String);

export const adaptersSchema = z
  .object(
    Object.fromEntries(Object.entries(ADAPTER_KINDS).map(([kind, entry]) => [kind, z.record(instanceName, entry.schema as z.ZodType).optional()])) as Record<
      string,
      z.ZodOptional<z.ZodRecord<typeof instanceName, z.ZodType>>
    >,
  )
  .strict();

export const bindingSchema = z
  .object({
    agent: z.string().min(1),
    /** Adapter kind: telegram, discord, slack. */
    platform: z.string().min(1),
    /** Adapter instance; any when absent. */
    instance: instanceName.optional(),
    /** Discord guild. */
    guild: platformId.optional(),
    /** Slack workspace (team id). */
    workspace: platformId.optional(),
    /** Telegram chat. */
    chat: platformId.optional(),
    /** Discord/Slack channel; also matches threads whose parent is this channel. */
    channel: platformId.optional(),
    /** One thread only. */
    thread: platformId.optional(),
    /** true: direct messages only; false: never direct messages. */
    direct: z.boolean().optional(),
    /** Overrides the agent's autonomy for the conversations this binding routes (docs/security.md). */
    autonomy: autonomySchema.optional(),
  })
  .strict();

export const gatewaySchema = z
  .object({
    /** Messages no binding matches: answered by the default agent, or ignored. */
    unmatched: z.enum(['default_agent', 'ignore']).optional(),
    /** The agent answering unmatched messages; default: the first configured agent. */
    default_agent: z.string().min(1).optional(),
    /** How often the gateway writes adapter status for the API (milliseconds). */
    status_interval_ms: z.number().int().min(100).max(600_000).optional(),
  })
  .strict();

export interface AdapterInstanceConfig {
  kind: string;
  instance: string;
  /** The channel workflows' platform key of this instance (adapters/platform-key.ts). */
  platform: string;
  /** The table as parsed by the kind's schema; the registry's factory reads it. */
  settings: unknown;
}

export interface BindingConfig {
  agent: string;
  platform: string;
  instance?: string;
  guild?: string;
  workspace?: string;
  chat?: string;
  channel?: string;
  thread?: string;
  direct?: boolean;
  autonomy?: Autonomy;
}

export interface GatewayConfig {
  unmatched: 'default_agent' | 'ignore';
  defaultAgent: string;
  statusIntervalMs: number;
}

export function resolveGatewayConfig(
  input: { adapters?: z.output<typeof adaptersSchema>; bindings?: z.output<typeof bindingSchema>[]; gateway?: z.output<typeof gatewaySchema> },
  agentIds: string[],
  fail: (message: string) => never,
): { adapters: AdapterInstanceConfig[]; bindings: BindingConfig[]; gateway: GatewayConfig } {
  const adapters: AdapterInstanceConfig[] = [];
  for (const [kind, instances] of Object.entries(input.adapters ?? {})) {
    for (const [instance, settings] of Object.entries(instances ?? {})) {
      if ((settings as { enabled?: boolean }).enabled === false) continue;
      adapters.push({ kind, instance, platform: platformKey(kind, instance), settings });
    }
  }
  const bindings = (input.bindings ?? []).map((binding, i): BindingConfig => {
    if (!agentIds.includes(binding.agent)) fail(`"bindings.${i}.agent": unknown agent "${binding.agent}"; configured agents: ${agentIds.join(', ')}`);
    if (!Object.hasOwn(ADAPTER_KINDS, binding.platform)) {
      fail(`"bindings.${i}.platform": unknown platform "${binding.platform}"; known: ${Object.keys(ADAPTER_KINDS).join(', ')}`);
    }
    const { agent, platform, ...rest } = binding;
    return { agent, platform, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) };
  });
  const defaultAgent = input.gateway?.default_agent ?? agentIds[0] ?? 'main';
  if (!agentIds.includes(defaultAgent)) fail(`"gateway.default_agent": unknown agent "${defaultAgent}"; configured agents: ${agentIds.join(', ')}`);
  return {
    adapters,
    bindings,
    gateway: { unmatched: input.gateway?.unmatched ?? 'default_agent', defaultAgent, statusIntervalMs: input.gateway?.status_interval_ms ?? 5000 },
  };
}
