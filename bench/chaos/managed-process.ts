import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';

/**
 * One OS process the chaos run (or the soak bench) started: its own process group (so kill -9 takes
 * everything it spawned and nothing else), output appended to a log file, ready once a given line was
 * printed. Only the pids recorded here are ever signalled.
 */
export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Printed (anywhere in stdout/stderr) once the process serves. */
  readyText: string;
  logFile: string;
}

export interface ExitEvent {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when this harness asked for the exit (kill9/stop). */
  expected: boolean;
}

const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 10_000;

export class ManagedProcess {
  readonly spec: ProcessSpec;
  child: ChildProcess | undefined;
  /** Starts of this process, the first included. */
  starts = 0;
  /** Printed its ready text and has not exited since. */
  ready = false;
  #log: WriteStream;
  #expectingExit = false;
  #exited: Promise<void> = Promise.resolve();
  readonly #onExit: (event: ExitEvent) => void;

  constructor(spec: ProcessSpec, onExit: (event: ExitEvent) => void = () => undefined) {
    this.spec = spec;
    this.#onExit = onExit;
    this.#log = createWriteStream(spec.logFile, { flags: 'a' });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns the process and resolves once it printed its ready text; rejects if it exits or hangs first. */
  start(readyTimeoutMs = READY_TIMEOUT_MS): Promise<void> {
    if (this.running()) throw new Error(`${this.spec.name} is already running (pid ${this.pid})`);
    this.starts++;
    this.ready = false;
    this.#expectingExit = false;
    this.#log.write(`\n=== start ${this.starts} at ${new Date().toISOString()} ===\n`);
    const child = spawn(this.spec.command, this.spec.args, { cwd: this.spec.cwd, env: this.spec.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let seen = '';
    let markReady: () => void = () => undefined;
    let markFailed: (err: Error) => void = () => undefined;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    const onData = (chunk: Buffer) => {
      this.#log.write(chunk);
      if (seen !== 'ready') {
        seen = (seen + chunk.toString()).slice(-4_000);
        if (seen.includes(this.spec.readyText)) {
          seen = 'ready';
          this.ready = true;
          markReady();
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        const expected = this.#expectingExit;
        this.ready = false;
        this.#log.write(`=== exit code=${code} signal=${signal} expected=${expected} at ${new Date().toISOString()} ===\n`);
        markFailed(new Error(`${this.spec.name} exited (code ${code}, signal ${signal}) before it was ready; see ${this.spec.logFile}`));
        resolve();
        this.#onExit({ name: this.spec.name, code, signal, expected });
      });
      child.once('error', (err) => markFailed(new Error(`${this.spec.name} could not start: ${err.message}`)));
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.spec.name} printed no "${this.spec.readyText}" within ${readyTimeoutMs / 1000} s; see ${this.spec.logFile}`)), readyTimeoutMs);
    });
    return Promise.race([ready, timeout]).finally(() => clearTimeout(timer));
  }

  /** SIGKILL to the whole process group, as in a crash; resolves once the process is gone. */
  async kill9(): Promise<void> {
    await this.#signalGroup('SIGKILL');
  }

  /** SIGTERM to the group, SIGKILL after a grace period; resolves once the process is gone. */
  async stop(): Promise<void> {
    if (!this.running()) return;
    const timer = setTimeout(() => this.#signal('SIGKILL'), STOP_GRACE_MS);
    await this.#signalGroup('SIGTERM');
    clearTimeout(timer);
  }

  /** Synchronous last resort for process exit handlers. */
  killNow(): void {
    if (this.running()) this.#signal('SIGKILL');
  }

  close(): void {
    this.#log.end();
  }

  async #signalGroup(signal: NodeJS.Signals): Promise<void> {
    if (!this.running()) return;
    this.#expectingExit = true;
    this.#signal(signal);
    await this.#exited;
  }

  #signal(signal: NodeJS.Signals): void {
    const pid = this.pid;
    if (pid === undefined) return;
    try {
      // The child leads its own group (detached): the group id is its pid.
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  }
}
