import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Harness } from './harness.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves when the worker logged that it is polling. */
  ready: Promise<void>;
  /** Everything it has written to stdout and stderr so far (pino JSON lines at LOG_LEVEL info). */
  output(): string;
  /** SIGKILL: the process gets no chance to finish anything, as in a crash. */
  kill(): Promise<void>;
}

/**
 * Runs the real worker entry point (workers/worker.ts) in its own process against the harness's
 * Temporal server, database and fake LLM, so a test can crash it at any moment. `ready` resolves
 * once it polls (and, with Worker Versioning, once its build is current if it is a new one).
 */
export function startWorkerProcess(h: Harness, extraEnv: Record<string, string> = {}): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers/worker.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      SPACEBOT_CONFIG: h.configFile,
      SPACEBOT_DATA_DIR: h.config.dataDir,
      TEMPORAL_ADDRESS: h.env.address,
      DATABASE_URL: h.database.url,
      ANTHROPIC_API_KEY: 'sk-ant-test-key-123456',
      ANTHROPIC_BASE_URL: h.fake.url,
      OPENAI_API_KEY: 'sk-test-openai-123456',
      OPENAI_BASE_URL: `${h.fake.url}/v1`,
      LOG_LEVEL: 'info',
      // e.g. SPACEBOT_BUILD_ID: a process of another build.
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Temporal worker running')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker process exited (${code}) before it was ready:\n${output.slice(-2000)}`)));
  });
  return {
    child,
    ready,
    output: () => output,
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
