import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../lib/logger.js';
import { findTemporalCli, missingCliMessage } from '../../lib/temporal/cli-path.js';
import { startDevServer, type DevServer } from '../../lib/temporal/dev-server.js';
import { startFakeLlm, type FakeLlm, type ScriptHandler } from '../../test/fake-llm/server.js';
import { startFakeTelegram, type FakeTelegram } from '../../test/fake-platforms/telegram/server.js';
import { freePorts } from '../../test/helpers/ports.js';
import { ManagedProcess, type ExitEvent } from './managed-process.js';
import { startPrivatePostgres, type PrivatePostgres } from './private-postgres.js';

/**
 * The production topology without Docker, every part a separate OS process this module started and
 * tracks by pid: a Temporal dev server, a private PostgreSQL, N API processes (workers/api.ts), M
 * worker processes (workers/worker.ts) and optionally the chat gateway (workers/gateway.ts) polling
 * the fake Telegram Bot API; the fake LLM and the fake Telegram run in this process. A process that
 * exits without being asked (Temporal or the database away at start, a crash) is started again.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const AGENT = 'main';
export const API_TOKEN = `chaos-token-${randomBytes(12).toString('hex')}`;
const MODEL = 'anthropic/claude-haiku-5-5';
const RESTART_ATTEMPTS = 30;
const RESTART_BACKOFF_MS = 1_000;

export type Role = 'api' | 'worker' | 'gateway';

export interface TopologyOptions {
  runDir: string;
  apis: number;
  workers: number;
  gateway: boolean;
  llm: ScriptHandler;
  /** Extra TOML appended to the generated config. */
  toml?: string;
  /**
   * Run the compiled entry points (`node dist/workers/<role>.js`, as the Docker image does) instead
   * of the sources under tsx, whose transpiler and source cache would be measured too. The caller
   * builds first (`npm run build`).
   */
  compiled?: boolean;
  /** Node flags for the worker processes (e.g. a heap limit). */
  workerNodeArgs?: string[];
  /** Extra environment of the worker processes (e.g. MALLOC_ARENA_MAX). */
  workerEnv?: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

export interface Topology {
  runDir: string;
  llm: FakeLlm;
  telegram: FakeTelegram;
  databaseUrl: string;
  temporalAddress: string;
  apiUrls: string[];
  token: string;
  /** Every Spacebot process by name (`api-1`, `worker-2`, `gateway`). */
  processes: Map<string, { role: Role; proc: ManagedProcess; port?: number }>;
  /** Exits nobody asked for (each followed by a restart). */
  unexpectedExits: ExitEvent[];
  /** kill -9 of one process's group; it is started again after `restartAfterMs`. */
  kill9(name: string, restartAfterMs: number): Promise<void>;
  /** Up and serving: started, printed its ready line, not being restarted. */
  isReady(name: string): boolean;
  /** Resolves once the named process runs again (starting it if needed, retrying while it fails). */
  ensureRunning(name: string): Promise<void>;
  /** The Temporal server killed (SIGKILL) and started again on the same ports and SQLite file. */
  restartTemporal(): Promise<void>;
  /** The PostgreSQL server shut down immediately (a crash for every client) and started again. */
  restartPostgres(): Promise<void>;
  stop(): Promise<void>;
  /** Synchronous last resort (process exit): SIGKILL to every group still running. */
  killNow(): void;
}

export async function startTopology(opts: TopologyOptions): Promise<Topology> {
  const { runDir, log } = opts;
  const cleanups: (() => Promise<void>)[] = [];
  const syncKills: (() => void)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => log(`chaos: cleanup failed: ${(err as Error).message}`));
  };
  try {
    const llm = await startFakeLlm();
    cleanups.push(() => llm.close());
    llm.script(opts.llm);
    // The fake keeps every request: forgotten now and then so a long run stays flat.
    const forget = setInterval(() => (llm.requests.length = 0), 5_000);
    cleanups.push(async () => clearInterval(forget));
    const telegram = await startFakeTelegram();
    cleanups.push(() => telegram.close());

    const ports = await freePorts(3 + opts.apis);
    const [pgPort, temporalPort, uiPort] = ports as [number, number, number];
    const postgres: PrivatePostgres = await startPrivatePostgres(path.join(runDir, 'postgres'), pgPort);
    cleanups.push(() => postgres.stop());
    syncKills.push(() => postgres.killNow());
    log(`chaos: PostgreSQL ${postgres.url}`);

    const cli = await findTemporalCli();
    if (!cli) throw new Error(missingCliMessage());
    const temporalLogger = createLogger('spacebot-chaos', process.env.CHAOS_TEMPORAL_LOG_LEVEL ?? 'silent');
    const devOptions = { cliPath: cli.path, dataDir: path.join(runDir, 'temporal'), port: temporalPort, uiPort, namespace: 'default', logger: temporalLogger };
    let dev: DevServer = await startDevServer(devOptions);
    cleanups.push(() => dev.stop());
    syncKills.push(() => {
      try {
        process.kill(dev.pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    });
    log(`chaos: Temporal ${dev.address}`);

    const configFile = path.join(runDir, 'spacebot.toml');
    writeFileSync(
      configFile,
      [
        '[temporal]',
        'task_queue = "spacebot-chaos"',
        '',
        '[server]',
        // The harness polls transcripts of every API conversation: no rate limit in its way.
        'rate_limit_per_token = 0',
        'rate_limit_per_address = 0',
        '',
        '[defaults]',
        `model = "${MODEL}"`,
        '',
        '[memory]',
        'embedder = "none"',
        '',
        '[cortex]',
        'enabled = false',
        '',
        '[tools]',
        // No tool runs in this topology; root test machines would otherwise refuse to start a worker.
        'sandbox = "none"',
        'allow_unsandboxed_root = true',
        '',
        ...(opts.gateway ? ['[adapters.telegram.default]', `api_root = "${telegram.url}"`, 'poll_timeout_seconds = 5', 'format = "plain"', ''] : []),
        opts.toml ?? '',
      ].join('\n'),
    );

    const masterKey = randomBytes(32).toString('hex');
    const baseEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      SPACEBOT_CONFIG: configFile,
      TEMPORAL_ADDRESS: dev.address,
      DATABASE_URL: postgres.url,
      ANTHROPIC_API_KEY: 'sk-ant-chaos-key-123456',
      ANTHROPIC_BASE_URL: llm.url,
      SPACEBOT_MASTER_KEY: masterKey,
      TELEGRAM_BOT_TOKEN: telegram.token,
      LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'info',
    };
    const processes = new Map<string, { role: Role; proc: ManagedProcess; port?: number }>();
    const unexpectedExits: ExitEvent[] = [];
    const restarting = new Map<string, Promise<void>>();
    let stopping = false;

    const ensureRunning = (name: string): Promise<void> => {
      const entry = processes.get(name);
      if (!entry) throw new Error(`no process named ${name}`);
      if (entry.proc.running() && !restarting.has(name)) return Promise.resolve();
      const pending = restarting.get(name);
      if (pending) return pending;
      const attempt = (async () => {
        for (let i = 1; i <= RESTART_ATTEMPTS && !stopping; i++) {
          try {
            if (entry.proc.running()) await entry.proc.kill9();
            await entry.proc.start();
            return;
          } catch (err) {
            log(`chaos: ${name} did not come up (attempt ${i}): ${(err as Error).message.split('\n')[0]}`);
            await entry.proc.kill9();
            await sleep(RESTART_BACKOFF_MS * Math.min(i, 5));
          }
        }
        if (!stopping) throw new Error(`${name} did not come up after ${RESTART_ATTEMPTS} attempts`);
      })().finally(() => restarting.delete(name));
      restarting.set(name, attempt);
      return attempt;
    };

    const onExit = (event: ExitEvent) => {
      if (event.expected || stopping) return;
      const name = event.name;
      // A start that failed is retried by ensureRunning itself.
      if (restarting.has(name)) return;
      unexpectedExits.push(event);
      log(`chaos: ${name} exited by itself (code ${event.code}, signal ${event.signal}); restarting it`);
      void ensureRunning(name).catch((err: unknown) => log(`chaos: ${(err as Error).message}`));
    };

    const add = (name: string, role: Role, entry: string, readyText: string, extraEnv: NodeJS.ProcessEnv, port?: number) => {
      const dataDir = path.join(runDir, name);
      mkdirSync(dataDir, { recursive: true });
      const proc = new ManagedProcess(
        {
          name,
          command: process.execPath,
          args: [
            ...(role === 'worker' ? (opts.workerNodeArgs ?? []) : []),
            ...(opts.compiled ? [path.join(ROOT, 'dist', entry.replace(/\.ts$/, '.js'))] : ['--import', 'tsx', path.join(ROOT, entry)]),
          ],
          cwd: ROOT,
          env: { ...baseEnv, SPACEBOT_DATA_DIR: dataDir, ...extraEnv },
          readyText,
          logFile: path.join(runDir, `${name}.log`),
        },
        onExit,
      );
      processes.set(name, { role, proc, ...(port !== undefined ? { port } : {}) });
      syncKills.push(() => proc.killNow());
    };

    const apiPorts = ports.slice(3);
    for (let i = 1; i <= opts.workers; i++) add(`worker-${i}`, 'worker', 'workers/worker.ts', 'Temporal worker running', opts.workerEnv ?? {});
    for (let i = 1; i <= opts.apis; i++) {
      add(`api-${i}`, 'api', 'workers/api.ts', 'API listening', { SPACEBOT_API_TOKEN: API_TOKEN, SPACEBOT_HOST: '127.0.0.1', SPACEBOT_PORT: String(apiPorts[i - 1]) }, apiPorts[i - 1]);
    }
    if (opts.gateway) add('gateway', 'gateway', 'workers/gateway.ts', 'gateway started', {});
    cleanups.push(async () => {
      stopping = true;
      await Promise.all([...processes.values()].map(({ proc }) => proc.stop().finally(() => proc.close())));
    });

    // The first start migrates the database: one process first, so the others find it ready.
    const names = [...processes.keys()];
    await ensureRunning(names[0]!);
    await Promise.all(names.slice(1).map((name) => ensureRunning(name)));
    log(`chaos: ${names.join(', ')} running`);

    return {
      runDir,
      llm,
      telegram,
      databaseUrl: postgres.url,
      temporalAddress: dev.address,
      apiUrls: apiPorts.map((port) => `http://127.0.0.1:${port}`),
      token: API_TOKEN,
      processes,
      unexpectedExits,
      async kill9(name, restartAfterMs) {
        const entry = processes.get(name);
        if (!entry) throw new Error(`no process named ${name}`);
        await entry.proc.kill9();
        void sleep(restartAfterMs)
          .then(() => ensureRunning(name))
          .catch((err: unknown) => log(`chaos: ${(err as Error).message}`));
      },
      ensureRunning,
      isReady: (name) => (processes.get(name)?.proc.ready ?? false) && !restarting.has(name),
      async restartTemporal() {
        try {
          process.kill(dev.pid, 'SIGKILL');
        } catch {
          // Gone already.
        }
        await dev.stop();
        dev = await startDevServer(devOptions);
      },
      restartPostgres: () => postgres.restart(),
      stop: async () => {
        stopping = true;
        await stopAll();
      },
      killNow() {
        for (const kill of syncKills) kill();
      },
    };
  } catch (err) {
    log('chaos: start-up failed; stopping what was started');
    await stopAll();
    throw err;
  }
}

