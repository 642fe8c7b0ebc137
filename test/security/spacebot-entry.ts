import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * `npm start` through its real entry point (workers/main.ts) as a child process, for the tests of
 * start-up refusals and of what survives a SIGKILL. The caller passes every port: nothing of a test
 * may bind Spacebot's default ports.
 */
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

export interface SpacebotProcess {
  child: ChildProcess;
  output(): string;
  /** The exit code, or the signal's name. */
  exited: Promise<number | string | null>;
}

export function startSpacebotProcess(env: Record<string, string>): SpacebotProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers/main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return { child, output: () => output, exited };
}

/** Resolves once `text` is in the output; rejects when the process exits first or the time is up. */
export async function waitForOutput(started: SpacebotProcess, text: string, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!started.output().includes(text)) {
    if (started.child.exitCode !== null || started.child.signalCode !== null) {
      throw new Error(`spacebot exited (${started.child.exitCode ?? started.child.signalCode}) before "${text}":\n${started.output().slice(-3000)}`);
    }
    if (Date.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms:\n${started.output().slice(-3000)}`);
    await sleep(100);
  }
}

/**
 * How a start that should be refused ended: the exit code, or 'started' when it came up after all
 * (then it is stopped, so that a regression fails the test quickly instead of hanging it).
 */
export async function refusedOrStarted(started: SpacebotProcess, timeoutMs = 240_000): Promise<number | string | null> {
  const came = waitForOutput(started, 'API listening', timeoutMs).then(
    () => 'started' as const,
    () => undefined,
  );
  const result = await Promise.race([started.exited, came.then((r) => r ?? started.exited)]);
  if (result === 'started') {
    started.child.kill('SIGTERM');
    await started.exited;
  }
  return result;
}
