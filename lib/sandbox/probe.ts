import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bwrapPlan, SANDBOX_PATH } from './policy.js';

/**
 * Whether the worker sandbox can be had here: bubblewrap installed AND able to create its namespaces
 * (many containers forbid unprivileged user namespaces, or Docker's seccomp/AppArmor profile blocks
 * them). Found out once per process by running the real policy with `true`.
 */

export type SandboxProbe =
  | { available: true; bwrap: string }
  | {
      available: false;
      /** One line: why not. */
      reason: string;
      /** One line: how to enable it. */
      howToEnable: string;
    };

const INSTALL_HINT = 'install bubblewrap (apt-get install -y bubblewrap; the Docker image has it)';
const USERNS_HINT =
  'allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, kernel.apparmor_restrict_unprivileged_userns=0); ' +
  'in Docker run the worker with --security-opt seccomp=unconfined --security-opt apparmor=unconfined (or a profile allowing unshare/mount), see docs/security.md';

/** The bwrap executable on `searchPath`, if installed. */
export function findBwrap(searchPath: string = process.env.PATH ?? ''): string | undefined {
  for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, 'bwrap');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

let cached: SandboxProbe | undefined;

/**
 * Cached after the first call (start-up calls it; the tool set asks again). Synchronous because the
 * tool set a model is offered is computed synchronously; it runs once and takes a few milliseconds.
 */
export function probeSandbox(options: { searchPath?: string; fresh?: boolean } = {}): SandboxProbe {
  if (cached && !options.fresh && options.searchPath === undefined) return cached;
  const result = runProbe(options.searchPath);
  if (options.searchPath === undefined) cached = result;
  return result;
}

function runProbe(searchPath: string | undefined): SandboxProbe {
  const bwrap = findBwrap(searchPath);
  if (!bwrap) return { available: false, reason: 'bubblewrap (bwrap) is not installed', howToEnable: INSTALL_HINT };
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'spacebot-sandbox-probe-')));
  try {
    const { args } = bwrapPlan({ workspace: dir, command: 'true', identity: false });
    const run = spawnSync(bwrap, args, { env: { PATH: SANDBOX_PATH }, encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] });
    if (run.status === 0) return { available: true, bwrap };
    const why = (run.error?.message ?? run.stderr ?? '').trim().split('\n')[0] || `exit ${run.status ?? run.signal}`;
    return { available: false, reason: `bubblewrap cannot create the sandbox here (${why})`, howToEnable: USERNS_HINT };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
