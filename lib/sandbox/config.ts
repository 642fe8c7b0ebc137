import { z } from 'zod';

/**
 * The `[tools]` keys that decide how workers' shell and file tools are confined (docs/security.md,
 * "Sandbox"). Spread into the `[tools]` schema; resolved with defaults by resolveSandboxSettings.
 */

export type SandboxMode = 'bwrap' | 'none';
export type SandboxNetwork = 'none' | 'guarded';

export const sandboxSchemaFields = {
  /** `bwrap` (default): every shell command runs in a bubblewrap sandbox. `none`: on the host, an explicit opt-in. */
  sandbox: z.enum(['bwrap', 'none']).optional(),
  /** `sandbox = "none"` while running as root is refused unless this is true. */
  allow_unsandboxed_root: z.boolean().optional(),
  /** `none` (default): no network inside the sandbox. `guarded`: only through the egress guard (lib/net/). */
  network: z.enum(['none', 'guarded']).optional(),
};

export interface SandboxSettings {
  sandbox: SandboxMode;
  /** Lets `sandbox = "none"` run as root: the model then has root's shell on the host. */
  allowUnsandboxedRoot: boolean;
  /** The sandbox always has its own network namespace; `guarded` adds the egress guard's way out. */
  network: SandboxNetwork;
}

export function resolveSandboxSettings(tools: { sandbox?: SandboxMode; allow_unsandboxed_root?: boolean; network?: SandboxNetwork } | undefined): SandboxSettings {
  return {
    sandbox: tools?.sandbox ?? 'bwrap',
    allowUnsandboxedRoot: tools?.allow_unsandboxed_root ?? false,
    network: tools?.network ?? 'none',
  };
}
