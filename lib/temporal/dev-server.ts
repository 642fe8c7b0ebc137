import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Connection } from '@temporalio/client';
import type { Logger } from '../logger.js';
import { reapStaleDevServer, recordFor, removeRecord, writeRecord } from './dev-server-record.js';
import { cliSearchAttributeFlags } from './search-attributes.js';
import { isSupervisorMessage } from './supervisor-messages.js';

export interface DevServerOptions {
  /** The temporal CLI binary (see findTemporalCli). */
  cliPath: string;
  /** Holds temporal.db, the SQLite store that keeps workflows across restarts. */
  dataDir: string;
  /** Frontend gRPC port; default 7233. */
  port?: number;
  /** Web UI port; default 8233. */
  uiPort?: number;
  /** Created at start in addition to 'default'; default 'default'. */
  namespace?: string;
  /** Address the server binds; default 127.0.0.1 so it is not exposed to the network. */
  ip?: string;
  logger: Logger;
  /** How long to wait for the frontend to answer; default 30 s. */
  readyTimeoutMs?: number;
}

export interface DevServer {
  /** host:port for Connection.connect / NativeConnection.connect. */
  address: string;
  uiUrl: string;
  namespace: string;
  /** OS pid of the server process (the temporal CLI, not its supervisor). */
  pid: number;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. Safe to call twice. */
  stop(): Promise<void>;
}

type Settings = Required<Omit<DevServerOptions, 'logger'>>;

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the binary could not be started at all (ENOENT, EACCES). */
  error?: Error;
}

/** 'starting' and 'stopping' change how expected server noise is logged; see levelFor. */
type Phase = 'starting' | 'running' | 'stopping';

interface ServerProcess {
  /** The supervisor (dev-server-supervisor.ts): leader of a process group holding it and the server. */
  child: ChildProcess;
  /** Resolves with the server's pid once the supervisor started it; undefined if it never ran. */
  spawned: Promise<number | undefined>;
  /** Resolves once the process is gone and its output is fully read; never rejects. */
  exited: Promise<ExitInfo>;
  stderrTail: string[];
  phase: Phase;
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 10_000;
const STDERR_TAIL_LINES = 20;
const POLL_INTERVAL_MS = 100;
const PROBE_TIMEOUT_MS = 1_000;
/** node + tsx starting on a loaded machine; the supervisor itself does nothing slow. */
const SUPERVISOR_START_TIMEOUT_MS = 30_000;
/** How long a reaped server's port may take to be released before it counts as held by something else. */
const REAPED_PORT_WAIT_MS = 5_000;

/**
 * Runs `temporal server start-dev` as a child process with a persistent SQLite store and the Spacebot
 * search attributes registered, and resolves once its frontend answers gRPC. Rejects (with the tail of
 * the server's stderr) if it exits first or does not answer within readyTimeoutMs.
 */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const settings = withDefaults(opts);
  const log = opts.logger.child({ component: 'temporal-dev-server' });
  const target = frontendTarget(settings);
  await mkdir(settings.dataDir, { recursive: true });
  // A server orphaned by an earlier run would hold the ports and temporal.db: reap it first.
  const reaped = await reapStaleDevServer(settings.dataDir, dbFile(settings), log);
  await assertPortFree(settings, target, reaped ? REAPED_PORT_WAIT_MS : 0);

  const startedAt = performance.now();
  const proc = spawnServer(settings, log);
  let pid: number | undefined;
  try {
    pid = await waitUntilReady(proc, settings, target);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  proc.phase = 'running';
  const { address } = target;
  const uiUrl = `http://${bracketed(target.host)}:${settings.uiPort}`;
  log.info({ address, uiUrl, startMs: Math.round(performance.now() - startedAt) }, 'temporal dev server ready');
  return { address, uiUrl, namespace: settings.namespace, pid: pid ?? -1, stop: () => proc.stop() };
}

/** Absolute, so the command line the reaper checks names the same file whatever the next start's cwd. */
function dbFile(s: Settings): string {
  return path.resolve(s.dataDir, 'temporal.db');
}

function withDefaults(opts: DevServerOptions): Settings {
  return {
    cliPath: opts.cliPath,
    dataDir: opts.dataDir,
    port: opts.port ?? 7233,
    uiPort: opts.uiPort ?? 8233,
    namespace: opts.namespace ?? 'default',
    ip: opts.ip ?? '127.0.0.1',
    readyTimeoutMs: opts.readyTimeoutMs ?? 30_000,
  };
}

/** Where clients reach the frontend: `host` for sockets, `address` (host:port) for Temporal clients. */
interface FrontendTarget {
  host: string;
  port: number;
  address: string;
}

function frontendTarget(s: Settings): FrontendTarget {
  // Clients cannot dial a wildcard bind address; loopback reaches the same listener.
  const host = s.ip === '0.0.0.0' ? '127.0.0.1' : s.ip === '::' ? '::1' : s.ip;
  return { host, port: s.port, address: `${bracketed(host)}:${s.port}` };
}

function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function serverArgs(s: Settings): string[] {
  return [
    'server',
    'start-dev',
    '--db-filename',
    dbFile(s),
    '--ip',
    s.ip,
    '--port',
    String(s.port),
    '--ui-port',
    String(s.uiPort),
    '--namespace',
    s.namespace,
    '--log-level',
    'warn',
    '--log-format',
    'json',
    // The history service's transfer queue polls at most 20 times a second by default, which paces
    // every task hand-off of a single-node server at ~50 ms; a conversation turn has several.
    // Lifting the cap cut the benchmark's round trip from ~105 to ~70 ms (bench/README.md).
    '--dynamic-config-value',
    'history.transferProcessorMaxPollRPS=10000',
    ...cliSearchAttributeFlags(),
  ];
}

/**
 * The supervisor script: the .ts source through tsx under tsx and jest, the compiled .js under dist/.
 * The loader is resolved to a file URL so that it loads whatever the working directory.
 */
function supervisorCommand(): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const source = path.join(here, 'dev-server-supervisor.ts');
  if (!existsSync(source)) return [path.join(here, 'dev-server-supervisor.js')];
  return ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href, source];
}

/**
 * Starts the server through its supervisor, which kills it when this process dies however it dies
 * (dev-server-supervisor.ts says why). `detached` puts both in a process group of their own: Ctrl-C
 * in a terminal reaches only us, and we stop the server in order; SIGKILL reaches both at once.
 */
function spawnServer(settings: Settings, log: Logger): ServerProcess {
  const child = spawn(process.execPath, [...supervisorCommand(), settings.cliPath, ...serverArgs(settings)], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
  });
  let spawnError: Error | undefined;
  const spawned = new Promise<number | undefined>((resolve) => {
    child.on('message', (message) => {
      if (!isSupervisorMessage(message)) return;
      if (message.type === 'spawn-error') {
        spawnError = new Error(message.message);
        resolve(undefined);
        return;
      }
      resolve(message.pid);
      void recordServer(settings, message.pid, log);
    });
    child.once('exit', () => resolve(undefined));
  });
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, ...(spawnError ? { error: spawnError } : {}) }));
    // Without a pid node itself never ran and 'close' may not follow; other 'error's are failed kills.
    child.on('error', (error) => {
      if (child.pid === undefined) resolve({ code: null, signal: null, error });
      else log.warn({ err: error }, 'signalling the temporal dev server failed');
    });
  });
  // Whatever ended the supervisor, nothing of its group may outlive it.
  child.once('exit', () => killGroup(child));
  void Promise.all([spawned, exited]).then(([pid]) => (pid === undefined ? undefined : removeRecord(settings.dataDir, pid).catch(() => undefined)));
  let stopping: Promise<void> | undefined;
  const proc: ServerProcess = {
    child,
    spawned,
    exited,
    stderrTail: [],
    phase: 'starting',
    stop: () => (stopping ??= terminate(proc, log)),
  };
  pipeOutput(proc, log);
  killOnParentExit(proc);
  return proc;
}

/** Notes the server under the data directory, so the next start can reap it if it is ever orphaned. */
async function recordServer(settings: Settings, pid: number, log: Logger): Promise<void> {
  const record = recordFor(pid, dbFile(settings));
  if (!record) return;
  await writeRecord(settings.dataDir, record).catch((err: unknown) => {
    log.warn({ err }, 'could not record the temporal dev server under the data directory; a stale one will not be reaped');
  });
}

/** SIGKILL to the supervisor's process group; a group that is already gone is fine. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // ESRCH: nothing left in the group.
  }
}

/** Banner lines from stdout go to info; stderr carries the server's JSON log and any crash output. */
function pipeOutput(proc: ServerProcess, log: Logger): void {
  const { stdout, stderr } = proc.child;
  if (stdout) forEachLine(stdout, (line) => log.info(line));
  if (stderr) {
    forEachLine(stderr, (line) => {
      proc.stderrTail.push(line);
      if (proc.stderrTail.length > STDERR_TAIL_LINES) proc.stderrTail.shift();
      logServerLine(log, line, proc.phase);
    });
  }
}

function forEachLine(stream: Readable, onLine: (line: string) => void): void {
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
    if (line.trim() !== '') onLine(line);
  });
}

type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const SERVER_LEVELS: Record<string, LogLevel> = { DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

function logServerLine(log: Logger, line: string, phase: Phase): void {
  const parsed = parseJsonRecord(line);
  if (!parsed) {
    // The server logs JSON; anything else on stderr is a panic or a CLI usage error.
    log.error(line);
    return;
  }
  const { level, msg, time: _time, ...fields } = parsed;
  const message = typeof msg === 'string' ? msg : line;
  log[levelFor(phase, SERVER_LEVELS[String(level).toUpperCase()] ?? 'info', message)](fields, message);
}

/** Internal clients dial the frontend before it listens, so every start logs this warning. */
const STARTUP_NOISE = new Set(['network dial error']);

/**
 * Demotes what every normal start and stop produces, so only real trouble shows at warn/error:
 * the startup dial warning, and, once we asked the server to stop, the warnings and errors it logs
 * for each in-flight operation the shutdown cancels ("context canceled", cut-off task polls).
 */
function levelFor(phase: Phase, level: LogLevel, message: string): LogLevel {
  if (level !== 'warn' && level !== 'error') return level;
  if (phase === 'stopping') return 'debug';
  if (phase === 'starting' && STARTUP_NOISE.has(message)) return 'debug';
  return level;
}

function parseJsonRecord(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An orphaned server would keep the ports and the SQLite file locked. 'exit' handlers must be
 * synchronous, so there is no time for a graceful stop: SIGKILL is safe because SQLite commits are
 * atomic. Deaths without 'exit' (SIGKILL, an unhandled signal) are the supervisor's to notice.
 */
function killOnParentExit(proc: ServerProcess): void {
  const kill = (): void => {
    if (isRunning(proc.child)) killGroup(proc.child);
  };
  process.on('exit', kill);
  void proc.exited.then(() => process.off('exit', kill));
}

function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

async function terminate(proc: ServerProcess, log: Logger): Promise<void> {
  proc.phase = 'stopping';
  if (isRunning(proc.child)) {
    // The supervisor hands SIGTERM on to the server and exits the way the server does.
    proc.child.kill('SIGTERM');
    if (!(await exitsWithin(proc.exited, STOP_GRACE_MS))) {
      log.warn({ graceMs: STOP_GRACE_MS }, 'temporal dev server ignored SIGTERM; sending SIGKILL');
      killGroup(proc.child);
    }
  }
  await proc.exited;
}

function exitsWithin(exited: Promise<ExitInfo>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void exited.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Resolves with the server's pid when the frontend answers; rejects if the process exits first or
 * the deadline passes. readyTimeoutMs counts from the server's spawn: the supervisor's own start
 * (node, and tsx in development) is not the server's to answer for.
 */
async function waitUntilReady(proc: ServerProcess, settings: Settings, target: FrontendTarget): Promise<number | undefined> {
  const abort = new AbortController();
  const exitedEarly = proc.exited.then(async (exit) => {
    throw await earlyExitError(exit, proc.stderrTail, settings, target.address);
  });
  // Once readiness wins the race, a later exit (e.g. stop()) must not surface as an unhandled rejection.
  exitedEarly.catch(() => undefined);
  try {
    const pid = await Promise.race([supervisorStarted(proc, abort.signal), exitedEarly]);
    const ready = await Promise.race([pollUntilAnswering(target, settings.readyTimeoutMs, abort.signal), exitedEarly]);
    if (!ready) {
      throw new Error(
        `temporal dev server did not answer on ${target.address} within ${settings.readyTimeoutMs} ms.` +
          outputTail(proc.stderrTail),
      );
    }
    return pid;
  } finally {
    abort.abort();
  }
}

/** The server's pid once the supervisor spawned it; a supervisor that never gets that far is an error. */
async function supervisorStarted(proc: ServerProcess, signal: AbortSignal): Promise<number | undefined> {
  const timedOut = sleep(SUPERVISOR_START_TIMEOUT_MS, 'timeout' as const, { signal }).catch(() => undefined);
  const pid = await Promise.race([proc.spawned, timedOut]);
  if (pid === 'timeout') {
    throw new Error(`the temporal dev server's supervisor did not start it within ${SUPERVISOR_START_TIMEOUT_MS} ms.${outputTail(proc.stderrTail)}`);
  }
  return pid;
}

async function pollUntilAnswering(target: FrontendTarget, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!signal.aborted && Date.now() < deadline) {
    const budget = Math.min(PROBE_TIMEOUT_MS, deadline - Date.now());
    // The cheap TCP probe first: gRPC backs off ~1 s after a refused connect, which would add that
    // much to every start; only once the port listens is a gRPC call worth making.
    if ((await portAccepts(target, budget)) && (await frontendAnswers(target.address, budget))) return true;
    await sleep(POLL_INTERVAL_MS, undefined, { signal }).catch(() => undefined);
  }
  return false;
}

function portAccepts({ host, port }: FrontendTarget, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: timeoutMs });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/** True when a Temporal frontend at `address` answers GetSystemInfo. */
async function frontendAnswers(address: string, timeoutMs: number): Promise<boolean> {
  // lazy + ensureConnected is what Connection.connect does, except that a failed attempt still hands
  // us the connection to close; connect() would leak its gRPC channel on every failed poll.
  const connection = Connection.lazy({ address, connectTimeout: timeoutMs });
  try {
    await connection.ensureConnected();
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await connection.close();
  }
}

/**
 * Fails before spawning when something already listens on the port. Waiting for the child's own
 * check is not enough: the readiness poll could reach the other server first and report it as ours.
 */
async function assertPortFree(s: Settings, target: FrontendTarget, graceMs: number): Promise<void> {
  // After a reap the kernel may take a moment to release the dead server's listener on a loaded machine.
  const deadline = Date.now() + graceMs;
  while (await portAccepts(target, PROBE_TIMEOUT_MS)) {
    if (Date.now() >= deadline) throw await portInUseError(s, target.address, '');
    await sleep(POLL_INTERVAL_MS);
  }
}

/** Says whether a Temporal server holds the port: then the fix is to use it rather than to free it. */
async function portInUseError(s: Settings, address: string, output: string): Promise<Error> {
  if (await frontendAnswers(address, PROBE_TIMEOUT_MS)) {
    return new Error(
      `port ${s.port} is in use: another Temporal server is running; set TEMPORAL_ADDRESS=${address} to use it.${output}`,
    );
  }
  return new Error(`port ${s.port} is in use by a process that is not a Temporal server; free it or pick another port.${output}`);
}

async function earlyExitError(exit: ExitInfo, tail: string[], s: Settings, address: string): Promise<Error> {
  const output = outputTail(tail);
  if (exit.error) {
    return new Error(`could not run the temporal CLI at ${s.cliPath}: ${exit.error.message}.${output}`);
  }
  const stderr = tail.join('\n');
  // Still possible after assertPortFree when another process binds the port in the meantime.
  if (stderr.includes(`:${s.port}: bind: address already in use`)) return portInUseError(s, address, output);
  if (stderr.includes(`:${s.uiPort}: bind: address already in use`)) {
    return new Error(`UI port ${s.uiPort} is in use; free it or pick another uiPort.${output}`);
  }
  const how = exit.signal ? `signal ${exit.signal}` : `code ${String(exit.code)}`;
  return new Error(`temporal dev server exited (${how}) before it was ready.${output}`);
}

function outputTail(tail: string[]): string {
  return tail.length === 0 ? ' It printed nothing on stderr.' : `\nLast server output:\n${tail.join('\n')}`;
}
