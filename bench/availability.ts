/**
 * `npm run bench:availability`: availability of answers when the primary model fails at random.
 *
 * Real path, composed by startSpacebot as `npm start` does: HTTP POST /v1/agents/main/conversations/
 * <c>/messages with `wait: true` → API → channel workflow → callModel (streaming on: the webhook's
 * deltas go to the stream bus) → the fake LLM through the real SDKs → deliverReply → HTTP reply.
 * The agent's primary is `anthropic/claude-haiku-5-5`, its fallback `openai/gpt-5-mini`, both served
 * by the fake LLM from test/fake-llm. In the faulted phases, each primary call fails with probability
 * BENCH_FAULT_RATE (0.3), with a fault drawn from: 500, 529 overloaded, an error event in the middle
 * of the stream, and a malformed stream. The fallback is always healthy.
 *
 * A turn fails when the HTTP answer is not 200 `completed` with one `reply` (an error reply counts as
 * failed). Latency is per turn, POST to response. Phases alternate baseline/faulted (ABBA...), so
 * drift hits both; the result is the faulted p50 and p99 as ratios to the baseline's, measured in the
 * same run on the same servers.
 *
 * Knobs (environment): BENCH_TURNS (500 per mode), BENCH_CONCURRENCY (10 conversations at a time),
 * BENCH_ROUNDS (2: phases per mode), BENCH_FAULT_RATE (0.3), BENCH_WARMUP (20), BENCH_SEED (1),
 * LOG_LEVEL (warn).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../lib/config/load.js';
import { createLogger } from '../lib/logger.js';
import { startSpacebot } from '../lib/runtime/app.js';
import { findTemporalCli, missingCliMessage } from '../lib/temporal/cli-path.js';
import { startDevServer } from '../lib/temporal/dev-server.js';
import { installTemporalRuntime } from '../lib/temporal/runtime-logger.js';
import { startFakeLlm, type FaultKind, type NeutralRequest, type ScriptStep } from '../test/fake-llm/server.js';
import { freePorts } from '../test/helpers/ports.js';
import { seededRandom } from '../lib/seeded-random.js';
import { percentile } from './percentile.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TOKEN = 'bench-token-0123456789abcdef-ghijklmn';
const TEXT_PREFIX = 'availability turn ';
const PRIMARY_ANSWER = 'answered by the primary';
const FALLBACK_ANSWER = 'answered by the fallback';
const FAULTS: FaultKind[] = ['server_error', 'overloaded', 'stream_error', 'malformed'];
const STOP_TIMEOUT_MS = 30_000;

function numberEnv(name: string, fallback: number, integer = true): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) throw new Error(`${name} must be a ${integer ? 'non-negative integer' : 'number'}, got "${raw}"`);
  return n;
}

const settings = {
  turns: numberEnv('BENCH_TURNS', 500),
  concurrency: Math.max(1, numberEnv('BENCH_CONCURRENCY', 10)),
  rounds: Math.max(1, numberEnv('BENCH_ROUNDS', 2)),
  faultRate: numberEnv('BENCH_FAULT_RATE', 0.3, false),
  warmup: numberEnv('BENCH_WARMUP', 20),
  seed: numberEnv('BENCH_SEED', 1),
};

const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const fmt = (v: number, digits = 2): string => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

type Mode = 'baseline' | 'faulted';

interface Turn {
  mode: Mode;
  ms: number;
  ok: boolean;
  by?: 'primary' | 'fallback';
  error?: string;
}

interface Injection {
  mode: Mode;
  primaryCalls: number;
  faults: Record<string, number>;
}

async function sendTurn(apiUrl: string, conversation: string, n: number, mode: Mode): Promise<Turn> {
  const started = performance.now();
  try {
    const res = await fetch(`${apiUrl}/v1/agents/main/conversations/${conversation}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text: `${TEXT_PREFIX}${n}`, messageId: `${conversation}-${n}`, wait: 120_000 }),
    });
    const body = (await res.json()) as { status?: string; replies?: { text: string; kind: string }[] };
    const ms = performance.now() - started;
    const reply = body.replies?.[0];
    const ok = res.status === 200 && body.status === 'completed' && body.replies?.length === 1 && reply?.kind === 'reply';
    const by = reply?.text === PRIMARY_ANSWER ? 'primary' : reply?.text === FALLBACK_ANSWER ? 'fallback' : undefined;
    return { mode, ms, ok: ok && by !== undefined, by, ...(ok && by ? {} : { error: `${res.status} ${JSON.stringify(body).slice(0, 300)}` }) };
  } catch (err) {
    return { mode, ms: performance.now() - started, ok: false, error: (err as Error).message };
  }
}

/** `turns` turns over `concurrency` conversations, each sending one after another. */
async function phase(apiUrl: string, tag: string, turns: number, mode: Mode): Promise<Turn[]> {
  const results: Turn[] = [];
  let next = 0;
  const lanes = Array.from({ length: Math.min(settings.concurrency, Math.max(1, turns)) }, async (_, lane) => {
    for (;;) {
      const n = next++;
      if (n >= turns) return;
      results.push(await sendTurn(apiUrl, `${tag}-${lane}`, n, mode));
    }
  });
  await Promise.all(lanes);
  return results;
}

async function main(): Promise<void> {
  const logger = createLogger('spacebot-bench', process.env.LOG_LEVEL ?? 'warn');
  installTemporalRuntime(logger);
  const stops: { name: string; stop: () => Promise<void> }[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-availability-'));
  stops.push({ name: 'temp dir', stop: async () => rmSync(dir, { recursive: true, force: true }) });
  const runTag = Math.random().toString(36).slice(2, 8);

  try {
    const fake = await startFakeLlm();
    stops.push({ name: 'fake LLM', stop: () => fake.close() });
    // Seeded, so a run's faults can be reproduced.
    const draw = seededRandom(settings.seed);
    let injection: Injection = { mode: 'baseline', primaryCalls: 0, faults: {} };
    // Only the bench's own turns are faulted; anything else the agent asks (none expected) just gets an answer.
    fake.script((req: NeutralRequest): ScriptStep => {
      if (req.provider === 'openai') return { text: FALLBACK_ANSWER };
      if (!req.lastUserText.startsWith(TEXT_PREFIX)) return { text: PRIMARY_ANSWER };
      injection.primaryCalls++;
      if (injection.mode === 'faulted' && draw() < settings.faultRate) {
        const fault = FAULTS[Math.floor(draw() * FAULTS.length)] as FaultKind;
        injection.faults[fault] = (injection.faults[fault] ?? 0) + 1;
        return { fault, ...(fault === 'stream_error' ? { partialText: 'this will be void' } : {}) };
      }
      return { text: PRIMARY_ANSWER };
    });
    // The fake keeps every request: forget them now and then so memory stays flat.
    const forget = setInterval(() => (fake.requests.length = 0), 5_000);
    stops.push({ name: 'request log', stop: async () => clearInterval(forget) });

    const cli = await findTemporalCli();
    if (!cli) throw new Error(missingCliMessage());
    const [port, uiPort] = (await freePorts(2)) as [number, number];
    const devServer = await startDevServer({
      cliPath: cli.path,
      dataDir: path.join(dir, 'temporal'),
      port,
      uiPort,
      namespace: 'default',
      logger: createLogger('spacebot-bench', process.env.LOG_LEVEL ?? 'error'),
    });
    stops.push({ name: 'Temporal dev server', stop: () => devServer.stop() });

    const dataDir = path.join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const configFile = path.join(dir, 'spacebot.toml');
    writeFileSync(
      configFile,
      [
        '[defaults]',
        'model = "anthropic/claude-haiku-5-5"',
        '',
        '[routing.fallbacks]',
        '"anthropic/claude-haiku-5-5" = ["openai/gpt-5-mini"]',
        '',
        // No local embedding model on bench machines; memories are not what this measures.
        '[memory]',
        'embedder = "none"',
        '',
      ].join('\n'),
    );
    const config = loadConfig({
      file: configFile,
      cwd: dir,
      env: {
        SPACEBOT_DATA_DIR: dataDir,
        TEMPORAL_ADDRESS: devServer.address,
        SPACEBOT_TASK_QUEUE: 'spacebot-availability',
        SPACEBOT_HOST: '127.0.0.1',
        SPACEBOT_PORT: '0',
        SPACEBOT_API_TOKEN: TOKEN,
        ANTHROPIC_API_KEY: 'sk-ant-bench-key-123456',
        ANTHROPIC_BASE_URL: fake.url,
        OPENAI_API_KEY: 'sk-bench-openai-123456',
        OPENAI_BASE_URL: `${fake.url}/v1`,
      },
    });
    const app = await startSpacebot(config, logger, { worker: true, api: true });
    stops.push({ name: 'Spacebot', stop: () => app.stop() });
    if (!app.apiUrl) throw new Error('the API did not start');
    const apiUrl = app.apiUrl;
    out(`availability bench: ${settings.turns} turns per mode, ${settings.concurrency} conversations at a time, ${settings.rounds} phases per mode, fault rate ${settings.faultRate}`);

    injection = { mode: 'baseline', primaryCalls: 0, faults: {} };
    await phase(apiUrl, `${runTag}-warmup`, settings.warmup, 'baseline');

    // ABBA...: baseline, faulted, faulted, baseline, ...
    const order: Mode[] = [];
    for (let r = 0; r < settings.rounds; r++) order.push(...((r % 2 === 0 ? ['baseline', 'faulted'] : ['faulted', 'baseline']) as Mode[]));
    const turns: Turn[] = [];
    const injections: Injection[] = [];
    for (const [i, mode] of order.entries()) {
      const share = Math.floor(settings.turns / settings.rounds) + (Math.floor(i / 2) < settings.turns % settings.rounds ? 1 : 0);
      injection = { mode, primaryCalls: 0, faults: {} };
      const t0 = performance.now();
      const results = await phase(apiUrl, `${runTag}-${i}-${mode}`, share, mode);
      turns.push(...results);
      injections.push(injection);
      const failed = results.filter((t) => !t.ok).length;
      out(`  phase ${i + 1}/${order.length} ${mode}: ${results.length} turns in ${fmt((performance.now() - t0) / 1000, 1)} s, ${failed} failed`);
    }

    const of = (mode: Mode) => turns.filter((t) => t.mode === mode);
    const summary = (mode: Mode) => {
      const list = of(mode);
      const ms = list.map((t) => t.ms);
      const faults: Record<string, number> = {};
      let primaryCalls = 0;
      for (const inj of injections.filter((x) => x.mode === mode)) {
        primaryCalls += inj.primaryCalls;
        for (const [k, v] of Object.entries(inj.faults)) faults[k] = (faults[k] ?? 0) + v;
      }
      return {
        turns: list.length,
        failed: list.filter((t) => !t.ok).length,
        byFallback: list.filter((t) => t.by === 'fallback').length,
        primaryCalls,
        faults,
        p50: percentile(ms, 50),
        p99: percentile(ms, 99),
        errors: list.filter((t) => !t.ok).slice(0, 5).map((t) => t.error),
      };
    };
    const baseline = summary('baseline');
    const faulted = summary('faulted');
    const injected = Object.values(faulted.faults).reduce((s, v) => s + v, 0);
    out();
    out('| mode | turns | failed | answered by fallback | primary faults injected | p50 ms | p99 ms |');
    out('| --- | --- | --- | --- | --- | --- | --- |');
    for (const [name, s] of [['no faults', baseline], ['30 % primary faults', faulted]] as const) {
      const faults = Object.values(s.faults).reduce((a, v) => a + v, 0);
      out(`| ${name} | ${s.turns} | ${s.failed} | ${s.byFallback} | ${faults} of ${s.primaryCalls} | ${fmt(s.p50, 1)} | ${fmt(s.p99, 1)} |`);
    }
    out();
    out(`failed turns under faults: ${faulted.failed} (must be 0); faults by kind: ${JSON.stringify(faulted.faults)}`);
    out(`latency under faults, as a ratio to the no-fault run: p50 x${fmt(faulted.p50 / baseline.p50)}, p99 x${fmt(faulted.p99 / baseline.p99)}`);
    for (const e of [...baseline.errors, ...faulted.errors]) out(`  failed: ${e}`);

    const resultsDir = path.join(HERE, 'results');
    mkdirSync(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `availability-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify({ settings, baseline, faulted, injected, ratios: { p50: faulted.p50 / baseline.p50, p99: faulted.p99 / baseline.p99 }, turns }, null, 2)}\n`);
    out(`results: ${path.relative(process.cwd(), file)}`);
    if (faulted.failed > 0 || baseline.failed > 0) process.exitCode = 1;
  } finally {
    for (const { name, stop } of stops.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(() => (console.error(`bench: stopping ${name} timed out`), resolve()), STOP_TIMEOUT_MS)));
      await Promise.race([stop().catch((err: unknown) => console.error(`bench: stopping ${name} failed:`, err)), timeout]);
      clearTimeout(timer);
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
