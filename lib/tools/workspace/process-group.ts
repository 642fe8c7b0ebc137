import { readdir, readFile } from 'node:fs/promises';

/**
 * Signals and liveness of a process group (a shell command and everything it started, spawned with
 * `detached: true` so that its pid is the group id).
 */

/** Sends `signal` to every process of group `pgid`; false when the group has no processes left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone
  }
}

/**
 * Whether any process of the group is still running. Killed members whose parent died are reparented
 * to init and stay zombies until it reaps them, which some container inits do late; a zombie runs
 * nothing, so on Linux /proc is consulted to ignore them. Elsewhere any member counts.
 */
export async function groupHasLiveMembers(pgid: number): Promise<boolean> {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== 'linux') return true;
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (!stat) continue;
    // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses, so parse after the last ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}
