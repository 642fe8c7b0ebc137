import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { SpacebotWorker } from '../../lib/runtime/worker.js';
import type { FastifyInstance } from 'fastify';
import { OutboundAdapters, type OutboundAdapter } from '../../adapters/outbound.js';
import { openStreamBus } from '../../lib/streaming/open-bus.js';
import { WebhookOutbound } from '../../adapters/webhook.js';
import { buildApi } from '../../api/server.js';
import { ChannelClient } from '../../lib/channel/channel-client.js';
import { InboundBodies } from '../../lib/channel/inbound-bodies.js';
import { loadConfig } from '../../lib/config/load.js';
import type { SpacebotConfig } from '../../lib/config/types.js';
import { ProviderRegistry } from '../../lib/llm/registry.js';
import { createLogger, type Logger } from '../../lib/logger.js';
import { leakGuardOf } from '../../lib/security/leak-guard.js';
import { openDatabase, type DatabaseRuntime } from '../../lib/runtime/database-runtime.js';
import { createSpacebotWorker } from '../../lib/runtime/worker.js';
import { promoteBuild } from '../../lib/temporal/worker-versioning.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/server.js';
import { startTestTemporal, testWorkflowBundle } from './temporal-env.js';
import { createTestDatabase } from './test-database.js';
import { Gateway } from '../../lib/gateway/gateway.js';
import type { RetryPolicy } from '../../lib/gateway/submit-retry.js';

// At least MIN_API_TOKEN_LENGTH (32) characters: the API refuses shorter tokens.
export const TEST_TOKEN = 'test-token-0123456789-abcdefghijklmnop';

export interface HarnessOptions {
  provider?: 'anthropic' | 'openai';
  /** Extra TOML appended to the generated spacebot.toml. */
  toml?: string;
  /** Reuse one dev server across harnesses of a file. */
  env?: TestWorkflowEnvironment;
  /** Start no in-process worker (tests that run the worker in a child process). */
  noWorker?: boolean;
  /**
   * Run the gateway with the `[adapters]` of `toml` (after the worker starts; stopped by close). The
   * worker's OutboundAdapters then hold every adapter's outbound side. `env` supplies adapter tokens.
   */
  gateway?: { env?: NodeJS.ProcessEnv; retry?: RetryPolicy };
  /** More outbound adapters for the worker (test doubles of platforms). */
  outbound?: OutboundAdapter[];
  /** The logger of the API and the worker (default: silent unless LOG_LEVEL), e.g. to read what was logged. */
  logger?: Logger;
  /** false: the worker leaves the tools task queue to a separate tools service (lib/runtime/tools-service.ts). */
  pollTools?: boolean;
}

export interface Harness {
  env: TestWorkflowEnvironment;
  fake: FakeLlm;
  config: SpacebotConfig;
  configFile: string;
  database: DatabaseRuntime;
  api: FastifyInstance;
  baseUrl: string;
  worker?: SpacebotWorker;
  /** With the `gateway` option. */
  gateway?: Gateway;
  startWorker(): Promise<SpacebotWorker>;
  stopWorker(): Promise<void>;
  /** fetch against the API with the bearer token. */
  request(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

/**
 * Everything a scenario needs, real but local: the Temporal dev server, PGlite (or a fresh database
 * of its own on TEST_DATABASE_URL's server, dropped by close) through `pg`, the fake LLM behind the
 * real SDKs, a worker and the HTTP API.
 */
export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const provider = options.provider ?? 'anthropic';
  const ownsEnv = !options.env;
  const env = options.env ?? (await startTestTemporal());
  // What setup has opened so far, closed in reverse if a later step fails: a harness that never
  // came up must not leave its database on TEST_DATABASE_URL's server (or a fake server) behind.
  const undo: (() => Promise<unknown>)[] = [];
  if (ownsEnv) undo.push(() => env.teardown());
  try {
    const fake = await startFakeLlm();
    undo.push(() => fake.close());
    const testDatabase = await createTestDatabase();
    undo.push(() => testDatabase.drop());
    const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-test-'));
    const taskQueue = `spacebot-test-${path.basename(dir)}`;
    const model = provider === 'anthropic' ? 'anthropic/claude-haiku-5-5' : 'openai/gpt-5-mini';
    const configFile = path.join(dir, 'spacebot.toml');
    writeFileSync(
      configFile,
      `[temporal]\ntask_queue = "${taskQueue}"\n\n[defaults]\nmodel = "${model}"\n${options.toml ?? ''}\n`,
    );
    const config = loadConfig({
      file: configFile,
      cwd: dir,
      env: {
        SPACEBOT_DATA_DIR: path.join(dir, 'data'),
        ANTHROPIC_API_KEY: 'sk-ant-test-key-123456',
        ANTHROPIC_BASE_URL: fake.url,
        OPENAI_API_KEY: 'sk-test-openai-123456',
        OPENAI_BASE_URL: `${fake.url}/v1`,
        SPACEBOT_API_TOKEN: TEST_TOKEN,
        DATABASE_URL: testDatabase.url,
      },
    });
    const logger = options.logger ?? createLogger('spacebot-test', process.env.LOG_LEVEL ?? 'silent');
    const database = await openDatabase(config, logger);
    undo.push(() => database.close());
    // Shared by the worker (publishes streamed answers) and the API (serves them over SSE).
    const streams = openStreamBus(database, logger);
    undo.push(() => streams.close());
    const channels = new ChannelClient(env.client, config, new InboundBodies(database.db));
    const api = buildApi({ config, db: database.db, temporal: env.client, temporalAddress: env.address, channels, logger, temporalUiUrl: 'http://127.0.0.1:8233', apiToken: TEST_TOKEN, streams });
    undo.push(() => api.close());
    await api.listen({ port: 0, host: '127.0.0.1' });
    const address = api.server.address();
    const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

    const gateway = options.gateway
      ? new Gateway({ config, channels, logger, db: database.db, temporal: env.client, env: options.gateway.env ?? {}, ...(options.gateway.retry ? { retry: options.gateway.retry } : {}) })
      : undefined;
    let running: Promise<void> | undefined;
    const harness: Harness = {
      env,
      fake,
      config,
      configFile,
      database,
      api,
      baseUrl,
      ...(gateway ? { gateway } : {}),
      async startWorker() {
        const deps = { config, db: database.db, providers: new ProviderRegistry(config.providers), outbound: new OutboundAdapters([new WebhookOutbound(), ...(gateway?.outbound() ?? []), ...(options.outbound ?? [])]), logger, temporal: env.client, streams, leakGuard: leakGuardOf({ config }) };
        const worker = await createSpacebotWorker({
          connection: env.nativeConnection,
          namespace: env.namespace ?? 'default',
          taskQueue,
          deps,
          workflowBundle: await testWorkflowBundle(config.temporal.versioning.enabled),
          ...(options.pollTools === false ? { pollTools: false } : {}),
        });
        running = worker.run();
        // As startSpacebot does: with Worker Versioning, tasks reach this build once it is current.
        await promoteBuild({ service: env.client.workflowService, namespace: env.namespace ?? 'default', config: config.temporal.versioning, logger });
        harness.worker = worker;
        return worker;
      },
      async stopWorker() {
        if (harness.worker && harness.worker.getState() === 'RUNNING') harness.worker.shutdown();
        await running;
        harness.worker = undefined;
      },
      async request(method, url, body, headers = {}) {
        const res = await fetch(baseUrl + url, {
          method,
          headers: { authorization: `Bearer ${TEST_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
          body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
      },
      async close() {
        await harness.gateway?.stop();
        await harness.stopWorker();
        await api.close();
        await streams.close();
        await database.close();
        await testDatabase.drop();
        await fake.close();
        if (ownsEnv) await env.teardown();
      },
    };
    undo.push(() => harness.stopWorker());
    if (!options.noWorker) await harness.startWorker();
    if (gateway) await gateway.start();
    return harness;
  } catch (err) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw err;
  }
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether the harness's Temporal server knows a workflow with this id (in any state). */
export function workflowExists(h: Harness, id: string): Promise<boolean> {
  return h.env.client.workflow
    .getHandle(id)
    .describe()
    .then(() => true)
    .catch(() => false);
}
