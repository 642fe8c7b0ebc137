import { existsSync, readFileSync } from 'node:fs';

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
 * one process for the whole uptime. Undefined when the process is gone or a zombie (it holds no ports
 * or files any more, only its exit status).
 */
export function processStartTime(pid: number): string | undefined {
  const stat = readProc(pid, 'stat');
  if (stat === undefined) return undefined;
  // Field 2 (the command name) is in parentheses and may itself hold spaces or parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [state] = fields;
  if (state === 'Z' || state === 'X') return undefined;
  return fields[19];
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
