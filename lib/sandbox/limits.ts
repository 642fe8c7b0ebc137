import { readdirSync, readFileSync } from 'node:fs';

/**
 * What one sandboxed shell command may use. bwrap gives the command its own namespaces but no resource
 * bounds: without these a fork bomb, a `head -c 64G >/tmp/x` or one huge allocation reaches the whole
 * machine (and the process budget of the server's own uid, which the sandbox user maps to).
 */
export interface SandboxLimits {
  /** Size of the sandbox's private /tmp tmpfs (`bwrap --size`). */
  tmpMb: number;
  /** Processes/threads the sandbox may add (RLIMIT_NPROC above the uid's current count; pids.max of its cgroup). */
  maxProcesses: number;
  /** RLIMIT_AS of each process in the sandbox. */
  memoryMb: number;
  /** RLIMIT_FSIZE: the largest file a process in the sandbox may write. */
  maxFileMb: number;
}

export const DEFAULT_SANDBOX_LIMITS: Readonly<SandboxLimits> = { tmpMb: 256, maxProcesses: 256, memoryMb: 1024, maxFileMb: 512 };

/** Open descriptors per process: enough for any build tool, not enough to exhaust the host's file table. */
export const SANDBOX_MAX_OPEN_FILES = 1024;

const MB = 1024 * 1024;

/**
 * util-linux `prlimit` arguments (before `--` and the command) applying the limits to bwrap and so to
 * everything in the sandbox: rlimits are inherited across fork and exec and no_new_privs plus the
 * dropped capabilities keep the sandbox from raising them again.
 */
export function prlimitArgs(limits: SandboxLimits, uid: number = process.getuid?.() ?? 0): string[] {
  return [
    // RLIMIT_NPROC counts every task of the *real uid*, not of the sandbox: the sandbox user maps to
    // the server's own uid, so the server's processes (worker, API, maybe Postgres) count too. A bare
    // limit of 256 would either refuse the sandbox's first fork on a busy host or, set high, leave the
    // uid's budget to the fork bomb. The limit is therefore the uid's current count plus the
    // sandbox's allowance, taken fresh for every command. (Root is exempt from RLIMIT_NPROC in the
    // kernel: there only the pids cgroup of ./pids-cgroup.ts bounds the count.)
    `--nproc=${tasksOfUid(uid) + limits.maxProcesses}`,
    `--as=${limits.memoryMb * MB}`,
    `--fsize=${limits.maxFileMb * MB}`,
    `--nofile=${SANDBOX_MAX_OPEN_FILES}`,
    '--core=0',
  ];
}

/** Tasks (threads: what RLIMIT_NPROC counts) whose real uid is `uid`, from /proc. */
export function tasksOfUid(uid: number): number {
  let count = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let status: string;
    try {
      status = readFileSync(`/proc/${entry}/status`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const real = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    if (real === undefined || Number(real) !== uid) continue;
    count += Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1);
  }
  return count;
}
