import type { SandboxSettings } from './config.js';
import { probeSandbox, type SandboxProbe } from './probe.js';

/**
 * Which workspace tools a worker may be offered under the `[tools]` sandbox settings. The shell (and
 * with it file_write and file_edit, which could plant what a shell would run) is offered only inside a
 * working sandbox, or with `sandbox = "none"` explicitly chosen (and, as root, explicitly allowed).
 */

export interface WorkspaceToolAccess {
  /** shell, file_write, file_edit. */
  shell: boolean;
  /** Why not, when not: one line. */
  reason?: string;
}

export function workspaceToolAccess(settings: Pick<SandboxSettings, 'sandbox' | 'allowUnsandboxedRoot'>, probe: () => SandboxProbe = probeSandbox): WorkspaceToolAccess {
  if (settings.sandbox === 'none') {
    if (isRoot() && !settings.allowUnsandboxedRoot) return { shell: false, reason: ROOT_REFUSAL };
    return { shell: true };
  }
  const result = probe();
  if (result.available) return { shell: true };
  return { shell: false, reason: `${result.reason}; ${result.howToEnable}` };
}

export const ROOT_REFUSAL =
  '[tools] sandbox = "none" would give the model a root shell on this host; refused. Remove it (the default is "bwrap"), ' +
  'or set [tools] allow_unsandboxed_root = true to accept that risk';

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}
