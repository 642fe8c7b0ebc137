import { z } from 'zod';
import { parseAllowEntry, parseAllowList, type AllowList } from './allow-list.js';
import type { GuardPolicy } from './url-guard.js';

/**
 * `[network]`: the operator's exceptions to the outbound address policy, shared by everything the
 * server fetches on someone else's behalf (heartbeat webhooks) and by the workers' egress proxy
 * (`[tools] network = "guarded"`). See docs/security.md, "Outbound URLs and worker network".
 *
 *   [network]
 *   allow = ["hooks.internal", "10.1.2.0/24", "127.0.0.1:8080"]
 */

const allowEntry = z.string().superRefine((value, ctx) => {
  try {
    parseAllowEntry(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

export const networkSchema = z
  .object({
    /** Hostnames, IP addresses or CIDR blocks (each optionally with ":port") that may be reached although private. */
    allow: z.array(allowEntry).max(1000).optional(),
  })
  .strict();

export interface NetworkConfig {
  /** As written; parsed once by guardPolicy(). Empty by default: nothing private is reachable. */
  allow: string[];
}

export function resolveNetwork(cfg: z.infer<typeof networkSchema> | undefined): NetworkConfig {
  return { allow: [...(cfg?.allow ?? [])] };
}

const parsed = new WeakMap<NetworkConfig, AllowList>();

/** The guard policy of a configuration (the allow list parsed once per config object). */
export function guardPolicy(network: NetworkConfig | undefined): GuardPolicy {
  if (!network) return { allow: parseAllowList([]) };
  let allow = parsed.get(network);
  if (!allow) {
    allow = parseAllowList(network.allow);
    parsed.set(network, allow);
  }
  return { allow };
}
