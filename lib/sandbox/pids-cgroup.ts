import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A pids cgroup of its own for one sandboxed command, where this process may make one: the cgroup v1
 * `pids` hierarchy, or a delegated cgroup v2 subtree with the pids controller enabled. It bounds the
 * sandbox's process count regardless of uid, which matters as root: the kernel exempts root from
 * RLIMIT_NPROC, so the rlimit of ./limits.ts alone bounds nothing there. Elsewhere it is an extra;
 * without a writable cgroup the rlimits still apply.
 */
export interface PidsCgroup {
  /** The `cgroup.procs` file the launcher writes its own pid to before it execs bwrap. */
  procsFile: string;
  /** Removes the cgroup once its processes are gone (best effort: an empty cgroup left behind is harmless). */
  remove(): void;
}

export function createPidsCgroup(maxProcesses: number): PidsCgroup | undefined {
  const parent = ownPidsCgroupDir();
  if (!parent) return undefined;
  const dir = path.join(parent, `spacebot-sandbox-${randomBytes(6).toString('hex')}`);
  try {
    mkdirSync(dir);
  } catch {
    return undefined;
  }
  try {
    writeFileSync(path.join(dir, 'pids.max'), String(maxProcesses));
  } catch {
    // cgroup v2 without the pids controller delegated to this subtree: no pids.max to write.
    removeQuietly(dir);
    return undefined;
  }
  return { procsFile: path.join(dir, 'cgroup.procs'), remove: () => removeWhenEmpty(dir) };
}

/** This process's own cgroup in a hierarchy that has the pids controller, or undefined. */
function ownPidsCgroupDir(): string | undefined {
  let lines: string[];
  try {
    lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const v1 = lines.map((l) => /^\d+:([^:]*):(.*)$/.exec(l)).find((m) => m && m[1]!.split(',').includes('pids'));
  if (v1 && existsSync('/sys/fs/cgroup/pids/cgroup.procs')) return path.join('/sys/fs/cgroup/pids', v1[2]!);
  const v2 = lines.map((l) => /^0::(.*)$/.exec(l)).find(Boolean);
  if (v2 && existsSync('/sys/fs/cgroup/cgroup.controllers')) return path.join('/sys/fs/cgroup', v2[1]!);
  return undefined;
}

/** Retries for a few seconds: the sandbox's last processes may still be exiting when the command has ended. */
const REMOVE_RETRY_MS = 100;
const REMOVE_ATTEMPTS = 50;

function removeWhenEmpty(dir: string, attempt = 0): void {
  if (removeQuietly(dir) || attempt >= REMOVE_ATTEMPTS) return;
  setTimeout(() => removeWhenEmpty(dir, attempt + 1), REMOVE_RETRY_MS).unref();
}

function removeQuietly(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    // Still busy (a process not yet reaped): try again; already gone: done.
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
