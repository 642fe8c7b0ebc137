import { z } from 'zod';
import { parseAllowEntry, parseAllowList, type AllowList } from './allow-list.js';
import type { GuardPolicy } from './url-guard.js';

/**
 * `[network]`: the operator's exceptions to the outbound address policy, in two lists. `allow` serves
 * what the server itself fetches on someone else's behalf (heartbeat webhooks); `egress_allow` serves
 * the workers' egress proxy (`[tools] network = "guarded"`), where a chat user steers the commands.
 * Separate because an address trusted as a webhook receiver is not thereby one every sandboxed command
 * may reach. See docs/security.md, "Outbound URLs and worker network".
 *
 *   [network]
 *   allow = ["hooks.internal", "127.0.0.1:8080"]
 *   egress_allow = ["pypi.internal:443"]
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
    /** The same, for the workers' sandboxed commands only (the egress proxy); `allow` does not apply there. */
    egress_allow: z.array(allowEntry).max(1000).optional(),
  })
  .strict();

export interface NetworkConfig {
  /** As written; parsed once by guardPolicy(). Empty by default: nothing private is reachable. */
  allow: string[];
  /** The workers' egress proxy's list, parsed once by egressPolicy(). Empty by default. */
  egressAllow: string[];
}

export function resolveNetwork(cfg: z.infer<typeof networkSchema> | undefined): NetworkConfig {
  return { allow: [...(cfg?.allow ?? [])], egressAllow: [...(cfg?.egress_allow ?? [])] };
}

const parsed = new WeakMap<NetworkConfig, AllowList>();
const parsedEgress = new WeakMap<NetworkConfig, AllowList>();

/** The guard policy of the server's own outbound fetches (webhooks): `[network] allow`, parsed once per config object. */
export function guardPolicy(network: NetworkConfig | undefined): GuardPolicy {
  return { allow: parsedOnce(parsed, network, (n) => n.allow) };
}

/** The guard policy of the workers' egress proxy: `[network] egress_allow` only, never `allow`. */
export function egressPolicy(network: NetworkConfig | undefined): GuardPolicy {
  return { allow: parsedOnce(parsedEgress, network, (n) => n.egressAllow) };
}

function parsedOnce(cache: WeakMap<NetworkConfig, AllowList>, network: NetworkConfig | undefined, entries: (n: NetworkConfig) => string[]): AllowList {
  if (!network) return parseAllowList([]);
  let allow = cache.get(network);
  if (!allow) {
    allow = parseAllowList(entries(network));
    cache.set(network, allow);
  }
  return allow;
}
