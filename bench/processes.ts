/**
 * `npm run bench:processes`: channel reply latency while 5 workers and a compaction run, as a ratio to
 * the same channel's idle reply latency in the same run (issue 3). Target: p50 ratio ≤ 1.3.
 *
 * Real path, composed by startSpacebot as `npm start` does (API, worker with its tools queue, embedded
 * PGlite, a Temporal dev server on free ports), with the fake LLM from test/fake-llm answering at once
 * and telling the processes apart by the tools they are offered:
 * - the channel (offered `reply`): a measured message gets `reply("ok")`, one LLM call per turn;
 * - a worker (offered `set_status`): every step reports a status and runs a real shell command, a loop
 *   of `sleep 0.2; echo` (BENCH_WORKER_TICKS ticks), until the bench cancels it;
 * - the compactor (offered no tools): its summarising call is held open by a gate until the block ends.
 *
 * One conversation is measured throughout, in blocks ordered idle, busy, busy, idle, ... (ABBA), so
 * drift and the conversation's growing context hit both modes alike:
 * - idle: nothing else runs in the channel (checked by query before the block);
 * - busy: one message makes the channel spawn 5 workers while its LLM call reports 82 % of the
 *   model's context window, so the channel starts a compactor child; once the compactor's LLM call is
 *   held and every worker has finished a first step, the block's replies are measured on the channel
 *   that owns them; afterwards the bench checks all of them still ran, releases the summary, cancels
 *   the workers through the API and waits until the channel has reported them and is quiet again.
 *
 * A sample is the HTTP round trip of POST /v1/agents/main/conversations/<c>/messages with `wait`,
 * counted only if the answer is 200 `completed` with the single reply `ok`. The process exits non-zero
 * on errors only; missing the target prints MISS.
 *
 * Knobs (environment): BENCH_WARMUP (10), BENCH_MESSAGES (40 per mode), BENCH_ROUNDS (2: blocks per
 * mode), BENCH_WORKER_TICKS (10: 0.2 s ticks per worker shell step), LOG_LEVEL (warn).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../lib/config/load.js';
import { createLogger } from '../lib/logger.js';
import { startSpacebot } from '../lib/runtime/app.js';
import { findTemporalCli, missingCliMessage } from '../lib/temporal/cli-path.js';
import { startDevServer } from '../lib/temporal/dev-server.js';
import { installTemporalRuntime } from '../lib/temporal/runtime-logger.js';
import { startFakeLlm, type NeutralRequest, type ScriptStep } from '../test/fake-llm/server.js';
import { freePorts } from '../test/helpers/ports.js';
import { channelWorkflowId, processesQuery, statusQuery } from '../workflows/channel-contract.js';
import type { ProcessRecord } from '../workflows/process-contract.js';
import { percentile } from './percentile.js';
import { intEnv } from './env.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const AGENT = 'main';
const TOKEN = 'bench-token-0123456789abcdef-ghijklmn';
const MODEL = 'anthropic/claude-haiku-5-5';
const TARGET_RATIO = 1.3;
const WORKERS = 5;
/** The model's window as configured for the bench, and the usage its calls report. */
const CONTEXT_WINDOW = 100_000;
const QUIET_USAGE = 2_000;
/** 82 %: past the 80 % threshold (summarise), below 85 % and 95 % (summarise more, truncate). */
const COMPACT_USAGE = 82_000;
const REPLY = 'ok';
const BUSY_PREFIX = 'start the busy work';
const BUSY_REPLY = 'busy work started';
const SUMMARY = 'Summary: the user sent numbered bench messages and the agent answered ok each time.';
/** Summarise calls time out per attempt after [routing] attempt_timeout_ms (120 s): stay well below. */
const LONG_HOLD_MS = 90_000;
const SETTLE_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

const settings = {
  warmup: intEnv('BENCH_WARMUP', 10),
  messages: intEnv('BENCH_MESSAGES', 40),
  rounds: intEnv('BENCH_ROUNDS', 2),
  workerTicks: intEnv('BENCH_WORKER_TICKS', 10),
};

const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const fmt = (v: number, digits = 1): string => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

/** Nearest-rank percentile. */
function summary(values: number[]) {
  return { replies: values.length, p50: percentile(values, 50), p95: percentile(values, 95), mean: values.reduce((a, b) => a + b, 0) / Math.max(1, values.length) };
}

interface Gate {
  promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

async function waitFor<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = SETTLE_TIMEOUT_MS): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

type Mode = 'idle' | 'busy';

interface Sample {
  mode: Mode;
  block: number;
  n: number;
  ms: number;
}

interface BlockReport {
  block: number;
  mode: Mode;
  replies: number;
  p50: number;
  /** Share of the block's wall time this process's main thread was busy (API, activities, PGlite, the fake LLM). */
  eventLoopUtilization: number;
  /** CPU time of this whole process (every thread: workflow threads, Temporal's core, PGlite) per wall second. */
  processCpu: number;
  /** Busy blocks: what ran beside the measured replies. */
  workerLlmCalls?: number;
  compactorHeldMs?: number;
  compactorOutcome?: string;
  compactedTurns?: string;
}

/** What the fake LLM does right now, and what it saw; the bench changes it between blocks. */
const load = {
  summaryGate: undefined as Gate | undefined,
  compactorCalls: 0,
  workerCalls: 0,
};

const isChannel = (req: NeutralRequest) => req.tools.includes('reply');
const isWorker = (req: NeutralRequest) => req.tools.includes('set_status');
const isCompactor = (req: NeutralRequest) => req.tools.length === 0 && /summary/i.test(req.system);
/** The call after the channel's tools ran (the status block, when present, follows the tool results). */
const lastIsToolResult = (req: NeutralRequest) => {
  const [before, last] = req.messages.slice(-2);
  return last?.role === 'tool' || (last?.role === 'user' && last.text.startsWith('<status>') && before?.role === 'tool');
};
const usage = (input: number) => ({ input, output: 5 });

async function answer(req: NeutralRequest): Promise<ScriptStep> {
  if (isChannel(req)) {
    if (lastIsToolResult(req)) return { toolCalls: [{ name: 'skip', input: {} }], usage: usage(QUIET_USAGE) };
    const text = req.lastUserText;
    if (text.startsWith(BUSY_PREFIX)) {
      const spawns = Array.from({ length: WORKERS }, (_, k) => ({ name: 'spawn_worker', input: { task: `bench worker ${k + 1}: keep a shell busy until cancelled` } }));
      // The reported usage (82 % of the window) makes the channel start its compactor after this call.
      return { toolCalls: [...spawns, { name: 'reply', input: { text: BUSY_REPLY } }], usage: usage(COMPACT_USAGE) };
    }
    // Results turns about the cancelled workers: nothing to say.
    if (text.startsWith('[Worker ')) return { toolCalls: [{ name: 'skip', input: {} }], usage: usage(QUIET_USAGE) };
    return { toolCalls: [{ name: 'reply', input: { text: REPLY } }], usage: usage(QUIET_USAGE) };
  }
  if (isWorker(req)) {
    load.workerCalls++;
    const task = req.messages.find((m) => m.role === 'user')?.text ?? '';
    const k = /bench worker (\d+)/.exec(task)?.[1] ?? '?';
    const step = req.messages.filter((m) => m.role === 'assistant').length + 1;
    // Each step's command differs (its step number), so the tool-loop guard never blocks it.
    const command = `for i in $(seq 1 ${settings.workerTicks}); do sleep 0.2; echo "worker ${k} step ${step} tick $i"; done`;
    return {
      toolCalls: [
        { name: 'set_status', input: { status: `step ${step}: ticking` } },
        { name: 'shell', input: { command, timeout_seconds: 120 } },
      ],
    };
  }
  if (isCompactor(req)) {
    load.compactorCalls++;
    await load.summaryGate?.promise;
    return { text: SUMMARY };
  }
  return { text: REPLY };
}

async function main(): Promise<void> {
  const logger = createLogger('spacebot-bench', process.env.LOG_LEVEL ?? 'warn');
  installTemporalRuntime(logger);
  const stops: { name: string; stop: () => Promise<void> }[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-bench-processes-'));
  stops.push({ name: 'temp dir', stop: async () => rmSync(dir, { recursive: true, force: true }) });
  const runTag = Math.random().toString(36).slice(2, 8);
  const conversation = `processes-${runTag}`;
  const channelId = channelWorkflowId({ agentId: AGENT, platform: 'webhook', conversationId: conversation });

  try {
    const fake = await startFakeLlm();
    stops.push({ name: 'fake LLM', stop: () => fake.close() });
    fake.script(answer);
    // The fake keeps every request: forget them now and then so memory stays flat.
    const forget = setInterval(() => (fake.requests.length = 0), 5_000);
    stops.push({ name: 'request log', stop: async () => clearInterval(forget) });
    // Whatever happens, a held summary is let go before the fake closes.
    stops.push({ name: 'summary gate', stop: async () => load.summaryGate?.open() });

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
        `model = "${MODEL}"`,
        `max_workers = ${WORKERS}`,
        // Workers run until cancelled: their step budget must outlast a busy block.
        'worker_max_llm_calls = 500',
        '',
        `[models."${MODEL}"]`,
        `context_window = ${CONTEXT_WINDOW}`,
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
        SPACEBOT_TASK_QUEUE: 'spacebot-bench-processes',
        SPACEBOT_HOST: '127.0.0.1',
        SPACEBOT_PORT: '0',
        SPACEBOT_API_TOKEN: TOKEN,
        ANTHROPIC_API_KEY: 'sk-ant-bench-key-123456',
        ANTHROPIC_BASE_URL: fake.url,
      },
    });
    const app = await startSpacebot(config, logger, { worker: true, api: true, watchIngest: false });
    stops.push({ name: 'Spacebot', stop: () => app.stop() });
    if (!app.apiUrl) throw new Error('the API did not start');
    const base = `${app.apiUrl}/v1/agents/${AGENT}/conversations/${conversation}`;
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

    // The bench's own view of the channel (its queries), beside the API.
    const connection = await Connection.connect({ address: devServer.address });
    stops.push({ name: 'Temporal client', stop: () => connection.close() });
    const client = new Client({ connection, namespace: 'default' });
    const channel = client.workflow.getHandle(channelId);

    /** One message; resolves with its turn once the answer is exactly `expected`. */
    const send = async (text: string, messageId: string, expected: string): Promise<{ ms: number; turn: number }> => {
      const started = performance.now();
      const res = await fetch(`${base}/messages`, { method: 'POST', headers, body: JSON.stringify({ text, messageId, wait: 120_000 }) });
      const body = (await res.json()) as { status?: string; turn?: number; replies?: { text: string; kind: string }[] };
      const ms = performance.now() - started;
      const ok = res.status === 200 && body.status === 'completed' && body.replies?.length === 1 && body.replies[0]?.kind === 'reply' && body.replies[0].text === expected;
      if (!ok || body.turn === undefined) throw new Error(`message "${text}": expected 200 completed with the reply "${expected}", got ${res.status} ${JSON.stringify(body).slice(0, 400)}`);
      return { ms, turn: body.turn };
    };

    const processes = () => channel.query(processesQuery);
    const active = (p: ProcessRecord) => p.state === 'running' || p.state === 'waiting';
    const cancel = async (p: ProcessRecord): Promise<void> => {
      const res = await fetch(`${base}/processes/${p.kind}/${p.n}/cancel`, { method: 'POST', headers, body: '{}' });
      if (res.status !== 200) throw new Error(`cancelling ${p.kind}/${p.n}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
    };
    // After a failure, workers still running are cancelled (their shell commands killed) before Spacebot stops.
    stops.push({
      name: 'running workers',
      stop: async () => {
        // A held summary first: a worker does not stop while its activity still waits on the fake.
        load.summaryGate?.open();
        const list = await processes().catch(() => []);
        for (const p of list.filter(active)) await cancel(p);
      },
    });
    /** Nothing runs in the channel: no turn, nothing queued, every process finished and reported. */
    const waitQuiet = (what: string) =>
      waitFor(async () => {
        const [status, list] = await Promise.all([channel.query(statusQuery), processes()]);
        return !status.running && status.queued === 0 && list.every((p) => !active(p) && p.reported) ? true : undefined;
      }, what);

    out(
      `processes bench: ${settings.messages} replies per mode in ${settings.rounds * 2} blocks (ABBA), ` +
        `busy = ${WORKERS} workers (shell steps of ${settings.workerTicks} × sleep 0.2) + a compaction held open, one conversation`,
    );
    for (let n = 0; n < settings.warmup; n++) await send(`bench warm-up ${n}`, `${conversation}-warmup-${n}`, REPLY);

    const order: Mode[] = [];
    for (let r = 0; r < settings.rounds; r++) order.push(...((r % 2 === 0 ? ['idle', 'busy'] : ['busy', 'idle']) as Mode[]));
    const samples: Sample[] = [];
    const blocks: BlockReport[] = [];
    for (const [i, mode] of order.entries()) {
      const block = i + 1;
      const count = Math.floor(settings.messages / settings.rounds) + (Math.floor(i / 2) < settings.messages % settings.rounds ? 1 : 0);
      let elu = 0;
      let cpu = 0;
      const measure = async (): Promise<number[]> => {
        const times: number[] = [];
        const eluStart = performance.eventLoopUtilization();
        const cpuStart = process.cpuUsage();
        const wallStart = performance.now();
        for (let n = 0; n < count; n++) {
          const { ms } = await send(`bench ${mode} ${block}.${n}`, `${conversation}-${block}-${n}`, REPLY);
          times.push(ms);
          samples.push({ mode, block, n, ms });
        }
        elu = performance.eventLoopUtilization(eluStart).utilization;
        const used = process.cpuUsage(cpuStart);
        cpu = (used.user + used.system) / 1000 / (performance.now() - wallStart);
        return times;
      };

      if (mode === 'idle') {
        await waitQuiet('the channel to be quiet before an idle block');
        const times = await measure();
        const report: BlockReport = { block, mode, replies: times.length, p50: percentile(times, 50), eventLoopUtilization: elu, processCpu: cpu };
        blocks.push(report);
        out(`  block ${block}/${order.length} idle: ${times.length} replies, p50 ${fmt(report.p50)} ms, main thread busy ${fmt(elu * 100, 0)} %, process CPU ${fmt(cpu * 100, 0)} %`);
        continue;
      }

      // Busy: 5 workers and a compactor, started by one message of the measured conversation.
      const summaryGate = gate();
      load.summaryGate = summaryGate;
      const compactorCallsBefore = load.compactorCalls;
      const known = new Set((await processes()).map((p) => p.id));
      const { turn } = await send(`${BUSY_PREFIX} (block ${block})`, `${conversation}-${block}-start`, BUSY_REPLY);
      const compactor = client.workflow.getHandle(`${channelId}/compactor/${turn}`);
      await waitFor(async () => (load.compactorCalls > compactorCallsBefore ? true : undefined), 'the compactor to call the model (it finds nothing to compact without earlier turns)');
      const heldSince = performance.now();
      // Steady state: every worker finished a first step (one shell command) and is on its next.
      const workers = await waitFor(async () => {
        const mine = (await processes()).filter((p) => p.kind === 'worker' && !known.has(p.id));
        return mine.length === WORKERS && mine.every((p) => p.state === 'running' && p.toolCalls >= 2) ? mine : undefined;
      }, `${WORKERS} workers to finish a first step`);

      const workerCallsBefore = load.workerCalls;
      const times = await measure();
      const workerLlmCalls = load.workerCalls - workerCallsBefore;

      // The block only counts if everything ran throughout.
      const running = (await processes()).filter((p) => workers.some((w) => w.id === p.id) && p.state === 'running').length;
      const compactorStatus = (await compactor.describe()).status.name;
      if (running !== WORKERS || compactorStatus !== 'RUNNING') {
        throw new Error(`busy block ${block} was not busy throughout: ${running} of ${WORKERS} workers running, compactor ${compactorStatus} at its end`);
      }
      const compactorHeldMs = performance.now() - heldSince;
      if (compactorHeldMs > LONG_HOLD_MS) out(`  warning: the summary was held ${fmt(compactorHeldMs / 1000)} s; past 120 s its LLM attempt times out and is retried`);

      summaryGate.open();
      const compacted = (await compactor.result()) as { outcome?: string; fromTurn?: number; throughTurn?: number };
      for (const w of workers) await cancel(w);
      for (const w of workers) {
        const handle = client.workflow.getHandle(w.id);
        await waitFor(async () => ((await handle.describe()).status.name !== 'RUNNING' ? true : undefined), `${w.id} to stop`);
      }
      await waitQuiet('the channel to report the cancelled workers');

      const report: BlockReport = {
        block,
        mode,
        replies: times.length,
        p50: percentile(times, 50),
        eventLoopUtilization: elu,
        processCpu: cpu,
        workerLlmCalls,
        compactorHeldMs: Math.round(compactorHeldMs),
        compactorOutcome: compacted.outcome ?? 'unknown',
        compactedTurns: compacted.fromTurn !== undefined ? `${compacted.fromTurn}–${compacted.throughTurn ?? '?'}` : undefined,
      };
      blocks.push(report);
      out(
        `  block ${block}/${order.length} busy: ${times.length} replies, p50 ${fmt(report.p50)} ms, main thread busy ${fmt(elu * 100, 0)} %, process CPU ${fmt(cpu * 100, 0)} %; meanwhile ${workerLlmCalls} worker steps (LLM call + shell), ` +
          `summary held ${fmt(compactorHeldMs / 1000)} s, then ${report.compactorOutcome}${report.compactedTurns ? ` turns ${report.compactedTurns}` : ''}`,
      );
    }

    const idle = summary(samples.filter((s) => s.mode === 'idle').map((s) => s.ms));
    const busy = summary(samples.filter((s) => s.mode === 'busy').map((s) => s.ms));
    const ratios = { p50: busy.p50 / idle.p50, p95: busy.p95 / idle.p95, mean: busy.mean / idle.mean };
    const pass = ratios.p50 <= TARGET_RATIO;
    out();
    out('| mode | replies | p50 ms | p95 ms | mean ms |');
    out('| --- | --- | --- | --- | --- |');
    for (const [name, s] of [['idle', idle], [`busy (${WORKERS} workers + compaction)`, busy]] as const) {
      out(`| ${name} | ${s.replies} | ${fmt(s.p50)} | ${fmt(s.p95)} | ${fmt(s.mean)} |`);
    }
    out();
    out(`busy/idle p50 x${fmt(ratios.p50, 2)} (target ≤ ${TARGET_RATIO}): ${pass ? 'PASS' : 'MISS'}`);
    out(`busy/idle p95 x${fmt(ratios.p95, 2)}, mean x${fmt(ratios.mean, 2)}`);

    const resultsDir = path.join(HERE, 'results');
    mkdirSync(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `processes-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify({ settings, targetRatio: TARGET_RATIO, idle, busy, ratios, pass, blocks, samples }, null, 2)}\n`);
    out(`results: ${path.relative(process.cwd(), file)}`);
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
  console.error(`bench:processes failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
});
