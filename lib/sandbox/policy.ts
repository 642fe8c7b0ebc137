import { lstatSync, readlinkSync } from 'node:fs';
import { DEFAULT_SANDBOX_LIMITS } from './limits.js';
import { ETC_ENTRIES, identityFiles, SANDBOX_GID, SANDBOX_UID, SANDBOX_USER, SYSTEM_DIRS } from './system-files.js';

/**
 * The sandbox every worker shell command runs in: bubblewrap with its own user, mount, pid, ipc, uts,
 * cgroup and network namespaces, no capabilities (and no_new_privs, which bwrap always sets), a new
 * session (no way to push keystrokes into a terminal), killed with its parent, a cleared environment,
 * the system read-only, a curated /etc, private /tmp, /proc and /dev, and the workspace as the only
 * writable path. Nothing of the data directory, config, database or Temporal is mounted, and with no
 * network namespace of its own nothing on the host's loopback is reachable.
 */

/** A hook for what a later policy adds (the egress guard of `network = "guarded"`): more mounts, env, a prelude. */
export interface SandboxExtras {
  /** More bind mounts; read-only unless `writable`. */
  binds?: { source: string; dest: string; writable?: boolean }[];
  /** More environment variables inside. */
  env?: Record<string, string>;
  /** Shell lines run inside before the command (e.g. starting a forwarder); the command then replaces the shell. */
  prelude?: string;
}

export interface SandboxPlan {
  /** bwrap's arguments, the command included. */
  args: string[];
  /**
   * Files bwrap reads from inherited descriptors (--ro-bind-data): `fd` 3, 4, ... in order. The
   * caller passes each as an extra pipe of the child and writes `content` to it.
   */
  dataFiles: { fd: number; dest: string; content: string }[];
}

export const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface SandboxSpec {
  /** Real path of the workspace: working directory, HOME, and the only writable mount. */
  workspace: string;
  /** The bash command line to run. */
  command: string;
  extras?: SandboxExtras;
  /** Pass /etc/passwd and /etc/group as data descriptors (false: the probe, which has no extra pipes). */
  identity?: boolean;
  /** Size of the private /tmp; default DEFAULT_SANDBOX_LIMITS.tmpMb. */
  tmpMb?: number;
}

export function bwrapPlan(spec: SandboxSpec): SandboxPlan {
  const { workspace, extras = {} } = spec;
  const args = [
    '--unshare-user',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    // Always: even `network = "guarded"` reaches out only through what the extras mount in.
    '--unshare-net',
    '--uid', String(SANDBOX_UID),
    '--gid', String(SANDBOX_GID),
    '--hostname', 'spacebot-sandbox',
    '--disable-userns',
    '--die-with-parent',
    '--new-session',
    '--cap-drop', 'ALL',
    '--clearenv',
  ];
  const env: Record<string, string> = {
    PATH: SANDBOX_PATH,
    HOME: workspace,
    USER: SANDBOX_USER,
    LOGNAME: SANDBOX_USER,
    SHELL: '/bin/bash',
    LANG: 'C.UTF-8',
    TMPDIR: '/tmp',
    ...extras.env,
  };
  for (const [name, value] of Object.entries(env)) args.push('--setenv', name, value);

  for (const dir of SYSTEM_DIRS) {
    const info = lstatOrUndefined(dir);
    if (!info) continue;
    if (info.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir);
    else if (info.isDirectory()) args.push('--ro-bind', dir, dir);
  }
  for (const entry of ETC_ENTRIES) args.push('--ro-bind-try', `/etc/${entry}`, `/etc/${entry}`);
  const dataFiles: SandboxPlan['dataFiles'] = [];
  if (spec.identity ?? true) {
    for (const file of identityFiles(workspace)) {
      const fd = 3 + dataFiles.length;
      dataFiles.push({ fd, dest: file.path, content: file.content });
      args.push('--ro-bind-data', String(fd), file.path);
    }
  }
  // Sized: an unsized tmpfs may grow to half the host's RAM.
  const tmpBytes = (spec.tmpMb ?? DEFAULT_SANDBOX_LIMITS.tmpMb) * 1024 * 1024;
  args.push('--size', String(tmpBytes), '--tmpfs', '/tmp', '--proc', '/proc', '--dev', '/dev');
  for (const bind of extras.binds ?? []) args.push(bind.writable ? '--bind' : '--ro-bind', bind.source, bind.dest);
  // Last, so that a workspace below /tmp (or below an extra mount) is not hidden by it.
  args.push('--bind', workspace, workspace, '--chdir', workspace);
  // The sandbox's own root (where bwrap made /etc and the mount points) read-only too, once everything is mounted.
  args.push('--remount-ro', '/');
  args.push('--', '/bin/bash', '-c');
  if (extras.prelude) args.push(`${extras.prelude}\nexec /bin/bash -c "$1"`, 'spacebot-sandbox', spec.command);
  else args.push(spec.command);
  return { args, dataFiles };
}

function lstatOrUndefined(p: string) {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}
