import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../lib/logger.js';
import { reapStaleDevServer, recordFor, recordPath, writeRecord } from '../../lib/temporal/dev-server-record.js';
import { processStartTime } from '../../lib/temporal/proc-info.js';
import { eventually } from '../helpers/harness.js';

/**
 * The reaper behind "a stale dev server recorded under the data directory is reaped at start" must
 * never kill a process it cannot prove is that server: a recycled pid, or a server whose Spacebot
 * still runs. Stand-ins are idle node processes whose command line looks like (or unlike) the server's.
 */

const logger = createLogger('process-lifetime-reaper.test', process.env.LOG_LEVEL ?? 'silent');
let scratch: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'spacebot-reaper-'));
});
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

let count = 0;
function dataDir(): string {
  return mkdtempSync(path.join(scratch, `data-${count++}-`));
}

/** An idle process (at most 60 s) with `args` after the script, as `temporal server start-dev …` would have. */
async function standIn(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)', ...args], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  return child;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null && processStartTime(child.pid ?? -1) !== undefined;
}

const devServerArgs = (dbFile: string) => ['server', 'start-dev', '--db-filename', dbFile, '--port', '7233'];

/** A record as a Spacebot that is gone would have left it: no live process has that start time. */
function orphanedRecord(pid: number, dbFile: string) {
  const record = recordFor(pid, dbFile);
  if (!record) throw new Error('no /proc: these tests need Linux');
  return { ...record, ownerPid: 0x3fffff, ownerStartTime: 'gone' };
}

test('kills the recorded server once its owner is gone, and drops the record', async () => {
  const dir = dataDir();
  const dbFile = path.join(dir, 'temporal.db');
  const server = await standIn(devServerArgs(dbFile));
  await writeRecord(dir, orphanedRecord(server.pid ?? -1, dbFile));
  await reapStaleDevServer(dir, dbFile, logger);
  await eventually(() => (alive(server) ? undefined : true), 10_000, 'the stand-in to die');
  expect(existsSync(recordPath(dir))).toBe(false);
});

test('kills nothing when the recorded pid now runs something else', async () => {
  const dir = dataDir();
  const dbFile = path.join(dir, 'temporal.db');
  for (const args of [['unrelated', 'work'], devServerArgs(path.join(scratch, 'another', 'temporal.db'))]) {
    const other = await standIn(args);
    await writeRecord(dir, orphanedRecord(other.pid ?? -1, dbFile));
    await reapStaleDevServer(dir, dbFile, logger);
    expect(alive(other)).toBe(true);
    expect(existsSync(recordPath(dir))).toBe(false);
  }
  // Same pid, same command line, but not the same process (a recycled pid): the start time tells.
  const lookalike = await standIn(devServerArgs(dbFile));
  await writeRecord(dir, { ...orphanedRecord(lookalike.pid ?? -1, dbFile), startTime: 'recycled' });
  await reapStaleDevServer(dir, dbFile, logger);
  expect(alive(lookalike)).toBe(true);
});

test('refuses, killing nothing, while the Spacebot that started the server still runs', async () => {
  const dir = dataDir();
  const dbFile = path.join(dir, 'temporal.db');
  const server = await standIn(devServerArgs(dbFile));
  const record = recordFor(server.pid ?? -1, dbFile);
  if (!record) throw new Error('no /proc: these tests need Linux');
  await writeRecord(dir, record);
  await expect(reapStaleDevServer(dir, dbFile, logger)).rejects.toThrow(`the data directory ${dir} is in use: Spacebot (pid ${process.pid})`);
  expect(alive(server)).toBe(true);
  expect(existsSync(recordPath(dir))).toBe(true);
});

test('a corrupt record is dropped', async () => {
  const dir = dataDir();
  writeFileSync(recordPath(dir), '{"pid": "1; rm -rf /"');
  await reapStaleDevServer(dir, path.join(dir, 'temporal.db'), logger);
  expect(existsSync(recordPath(dir))).toBe(false);
});
