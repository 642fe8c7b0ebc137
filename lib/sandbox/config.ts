import { z } from 'zod';
import { DEFAULT_SANDBOX_LIMITS, type SandboxLimits } from './limits.js';

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
  /** Size of each sandbox's private /tmp (a tmpfs, in RAM): without a size it could take half of it. */
  sandbox_tmp_mb: z.number().int().min(1).max(65_536).optional(),
  /** Processes (threads) a sandbox may add: RLIMIT_NPROC on top of the server's own, and pids.max where a cgroup can be made. */
  sandbox_max_processes: z.number().int().min(8).max(65_536).optional(),
  /** Address space of each sandboxed process (RLIMIT_AS). */
  sandbox_memory_mb: z.number().int().min(64).max(1_048_576).optional(),
  /** Largest file a sandboxed process may write (RLIMIT_FSIZE). */
  sandbox_max_file_mb: z.number().int().min(1).max(1_048_576).optional(),
};

export interface SandboxSettings {
  sandbox: SandboxMode;
  /** Lets `sandbox = "none"` run as root: the model then has root's shell on the host. */
  allowUnsandboxedRoot: boolean;
  /** The sandbox always has its own network namespace; `guarded` adds the egress guard's way out. */
  network: SandboxNetwork;
  /** What one sandboxed command may use (lib/sandbox/limits.ts); always set by resolveSandboxSettings, absent means the defaults. */
  limits?: SandboxLimits;
}

type SandboxToml = { sandbox?: SandboxMode; allow_unsandboxed_root?: boolean; network?: SandboxNetwork } & {
  [K in 'sandbox_tmp_mb' | 'sandbox_max_processes' | 'sandbox_memory_mb' | 'sandbox_max_file_mb']?: number;
};

export function resolveSandboxSettings(tools: SandboxToml | undefined): SandboxSettings {
  return {
    sandbox: tools?.sandbox ?? 'bwrap',
    allowUnsandboxedRoot: tools?.allow_unsandboxed_root ?? false,
    network: tools?.network ?? 'none',
    limits: {
      tmpMb: tools?.sandbox_tmp_mb ?? DEFAULT_SANDBOX_LIMITS.tmpMb,
      maxProcesses: tools?.sandbox_max_processes ?? DEFAULT_SANDBOX_LIMITS.maxProcesses,
      memoryMb: tools?.sandbox_memory_mb ?? DEFAULT_SANDBOX_LIMITS.memoryMb,
      maxFileMb: tools?.sandbox_max_file_mb ?? DEFAULT_SANDBOX_LIMITS.maxFileMb,
    },
  };
}
