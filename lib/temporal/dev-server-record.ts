import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ConfigError } from '../config/load.js';
import type { Logger } from '../logger.js';
import { procAvailable, processArgs, processStartTime, threadsRemain } from './proc-info.js';

/**
 * `<dataDir>/temporal-dev-server.json`: which dev server this data directory's Spacebot started, so
 * the next start can reap one that survived its owner. The supervisor (dev-server-supervisor.ts)
 * kills the server when Spacebot dies; this record covers the cases where both die at once (OOM
 * killer, a kill of the whole cgroup) and the server is left holding the ports and temporal.db.
 */
const recordSchema = z.object({
  /** The temporal CLI process and its start time (proc-info.ts), so a recycled pid is never killed. */
  pid: z.number().int().positive(),
  startTime: z.string(),
  /** The Spacebot process that started it: while that one lives, the server is in use, not stale. */
  ownerPid: z.number().int().positive(),
  ownerStartTime: z.string(),
  /** The --db-filename the server was started with: its command line must still say so to be killed. */
  dbFile: z.string(),
});

export type DevServerRecord = z.infer<typeof recordSchema>;

const RECORD_FILE = 'temporal-dev-server.json';
const REAP_WAIT_MS = 10_000;
const REAP_POLL_MS = 50;

export function recordPath(dataDir: string): string {
  return path.join(dataDir, RECORD_FILE);
}

/** The record for a server this process just started (pid), or undefined without /proc to vouch for it. */
export function recordFor(pid: number, dbFile: string): DevServerRecord | undefined {
  const startTime = processStartTime(pid);
  const ownerStartTime = processStartTime(process.pid);
  if (startTime === undefined || ownerStartTime === undefined) return undefined;
  return { pid, startTime, ownerPid: process.pid, ownerStartTime, dbFile };
}

export async function writeRecord(dataDir: string, record: DevServerRecord): Promise<void> {
  // Written whole or not at all: a start that dies mid-write must not leave half a record.
  const file = recordPath(dataDir);
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  await rename(temp, file);
}

/** Removes the record if it still names `pid` (another start may have replaced it meanwhile). */
export async function removeRecord(dataDir: string, pid: number): Promise<void> {
  const record = await readRecord(dataDir);
  if (record !== 'unreadable' && record?.pid === pid) await rm(recordPath(dataDir), { force: true });
}

async function readRecord(dataDir: string): Promise<DevServerRecord | undefined | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(recordPath(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    return recordSchema.parse(JSON.parse(text));
  } catch {
    return 'unreadable';
  }
}

/**
 * Before a start: kills the dev server recorded for this data directory if its owner is gone and the
 * process is still, by start time and command line, that very server. Throws when the owner is
 * still running (two Spacebots on one data directory would share one SQLite file). Kills nothing it
 * cannot verify: without /proc, or when the pid now belongs to another process, it only drops the record.
 * True when it killed one.
 */
export async function reapStaleDevServer(dataDir: string, dbFile: string, log: Logger): Promise<boolean> {
  const record = await readRecord(dataDir);
  if (record === undefined) return false;
  if (record === 'unreadable' || !procAvailable()) {
    await rm(recordPath(dataDir), { force: true });
    return false;
  }
  const serverAlive = processStartTime(record.pid) === record.startTime;
  if (serverAlive && processStartTime(record.ownerPid) === record.ownerStartTime) {
    throw new ConfigError(
      `the data directory ${dataDir} is in use: Spacebot (pid ${record.ownerPid}) runs a Temporal dev server on it; stop that one or set another SPACEBOT_DATA_DIR.`,
    );
  }
  if (serverAlive && isDevServerFor(processArgs(record.pid), dbFile)) {
    log.warn({ pid: record.pid }, 'a Temporal dev server left by a previous run still held this data directory; killed it');
    try {
      process.kill(record.pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
    await waitUntilGone(record);
    await rm(recordPath(dataDir), { force: true });
    return true;
  }
  await rm(recordPath(dataDir), { force: true });
  return false;
}

/** True for `temporal server start-dev … --db-filename <dbFile> …`, as serverArgs in dev-server.ts builds it. */
function isDevServerFor(args: string[] | undefined, dbFile: string): boolean {
  if (!args) return false;
  const startDev = args.findIndex((arg, i) => arg === 'server' && args[i + 1] === 'start-dev');
  const db = args.indexOf('--db-filename');
  return startDev >= 0 && db >= 0 && args[db + 1] === dbFile;
}

/** Until every thread has exited: the main thread turns zombie first, while the others still hold its ports. */
async function waitUntilGone(record: DevServerRecord): Promise<void> {
  const deadline = Date.now() + REAP_WAIT_MS;
  while (processStartTime(record.pid) === record.startTime || threadsRemain(record.pid, record.startTime)) {
    if (Date.now() > deadline) throw new Error(`the stale Temporal dev server (pid ${record.pid}) did not exit after SIGKILL`);
    await sleep(REAP_POLL_MS);
  }
}
