import { existsSync, readdirSync, readFileSync } from 'node:fs';

/**
 * What Linux's /proc says about a process, enough to tell "the process we started" from "a process
 * that got the same pid later". Elsewhere (no /proc) every answer is undefined: callers must then
 * assume nothing and kill nothing.
 */

export function procAvailable(): boolean {
  return existsSync('/proc/self/stat');
}

/**
 * The process's start time (clock ticks since boot, /proc/<pid>/stat field 22): with the pid it names
 * one process for the whole uptime. Undefined when the process is gone or its main thread a zombie
 * (other threads may still be exiting: threadsRemain says when its files and ports are released).
 */
export function processStartTime(pid: number): string | undefined {
  const fields = statFields(pid);
  if (fields === undefined) return undefined;
  const [state] = fields;
  if (state === 'Z' || state === 'X') return undefined;
  return fields[19];
}

/** /proc/<pid>/stat from field 3 (the state) on; the command name before it may hold spaces or parentheses. */
function statFields(pid: number, file = 'stat'): string[] | undefined {
  const stat = readProc(pid, file);
  return stat === undefined ? undefined : stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * True while any thread of the process has not finished exiting. A multi-threaded process's main
 * thread shows as a zombie as soon as it exits, while its other threads may still be tearing down
 * and still hold the shared file table, listening sockets included; only when the last of them is
 * gone are its ports free.
 */
export function threadsRemain(pid: number, startTime: string): boolean {
  // The pid may have been reaped and reused meanwhile: then what runs under it is not this process.
  if (statFields(pid)?.[19] !== startTime) return false;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  return tids.some((tid) => {
    const state = statFields(pid, `task/${tid}/stat`)?.[0];
    return state !== undefined && state !== 'Z' && state !== 'X';
  });
}

/** The process's argv, as the kernel holds it; undefined when the process is gone. */
export function processArgs(pid: number): string[] | undefined {
  const cmdline = readProc(pid, 'cmdline');
  return cmdline === undefined ? undefined : cmdline.split('\0').filter((arg, i, all) => arg !== '' || i < all.length - 1);
}

function readProc(pid: number, file: string): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}
