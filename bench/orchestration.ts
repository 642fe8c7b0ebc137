/**
 * `npm run bench`: per-message orchestration overhead of Spacebot with an LLM that answers instantly,
 * next to a floor measured in the same run on the same Temporal server. See bench/README.md.
 *
 * Real path (exactly what `npm start` runs, composed by startSpacebot): HTTP POST
 * /v1/agents/main/conversations/<c>/messages with `wait: true` → Fastify API (auth, zod) →
 * ChannelClient.submit (update-with-start, ACCEPTED, then a poll for the result) → channel workflow →
 * recordInbound → callModel (context from PGlite, Anthropic SDK → fake LLM, two writes) → deliverReply
 * → update result → HTTP reply.
 *
 * Floor (bench/floor-*.ts): HTTP POST /floor/<c> on a minimal Fastify server in the same process →
 * client.workflow.executeUpdateWithStart (USE_EXISTING, one long-lived workflow per conversation, like
 * the channel) → one workflow task accepts the update and schedules one no-op activity → the activity
 * runs on a Worker (default options, same process, same Temporal runtime, own task queue) → a second
 * workflow task completes the update → HTTP reply. It includes one HTTP hop, the update-with-start RPC
 * and result, two workflow tasks and one activity task; no database, no LLM call, no validation, no auth.
 *
 * Knobs (environment): BENCH_WARMUP (20), BENCH_MESSAGES (200), BENCH_CONVERSATIONS (50),
 * BENCH_PER_CONVERSATION (10), BENCH_ROUNDS (2), LOG_LEVEL (warn), BENCH_DATABASE_URL (unset: PGlite).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection, WithStartWorkflowOperation, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { WEBHOOK_PLATFORM } from '../adapters/webhook.js';
import { loadConfig } from '../lib/config/load.js';
import { createLogger } from '../lib/logger.js';
import { startSpacebot } from '../lib/runtime/app.js';
import { findTemporalCli, missingCliMessage } from '../lib/temporal/cli-path.js';
import { startDevServer } from '../lib/temporal/dev-server.js';
import { installTemporalRuntime } from '../lib/temporal/runtime-logger.js';
import { startFakeLlm, type NeutralRequest } from '../test/fake-llm/server.js';
import { channelWorkflowId } from '../workflows/channel-contract.js';
import * as floorActivities from './floor-activities.js';
import { FLOOR_WORKFLOW_TYPE, floorMessageUpdate, floorWorkflowId } from './floor-contract.js';
import type { floorWorkflow } from './floor-workflow.js';

// ---------------------------------------------------------------------------------------------------
// Settings

const HERE = path.dirname(fileURLToPath(import.meta.url));
const AGENT = 'main';
const TOKEN = 'bench-token-0123456789abcdef';
const TASK_QUEUE = 'spacebot-bench';
const FLOOR_TASK_QUEUE = 'spacebot-bench-floor';
const NAMESPACE = 'default';

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

const settings = {
  warmup: intEnv('BENCH_WARMUP', 20),
  messages: intEnv('BENCH_MESSAGES', 200),
  conversations: intEnv('BENCH_CONVERSATIONS', 50),
  perConversation: intEnv('BENCH_PER_CONVERSATION', 10),
  rounds: intEnv('BENCH_ROUNDS', 2),
};

/** Wall-clock epoch milliseconds with sub-millisecond resolution, comparable with Temporal event times. */
const nowMs = (): number => performance.timeOrigin + performance.now();

const out = (line = ''): void => void process.stdout.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------------
// Statistics

interface Stats {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile (p99 of 200 samples is the 198th smallest). */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length);
  return {
    n: sorted.length,
    mean,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

const mean = (values: number[]): number => values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);
const median = (values: number[]): number => percentile([...values].sort((a, b) => a - b), 50);
const fmt = (ms: number, digits = 2): string => (Number.isFinite(ms) ? ms.toFixed(digits) : 'n/a');

// ---------------------------------------------------------------------------------------------------
// The two paths

type Kind = 'real' | 'floor';

interface Sample {
  kind: Kind;
  conversation: string;
  messageId: string;
  /** Epoch ms when the HTTP request was issued and when its response body had been read. */
  start: number;
  end: number;
  ms: number;
  runId?: string;
}

interface Target {
  realUrl: string;
  floorUrl: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One message through a path; throws unless the answer is a completed turn (real: with the fake's reply). */
async function send(target: Target, kind: Kind, conversation: string, messageId: string): Promise<Sample> {
  const url =
    kind === 'real'
      ? `${target.realUrl}/v1/agents/${AGENT}/conversations/${conversation}/messages`
      : `${target.floorUrl}/floor/${conversation}`;
  const body = kind === 'real' ? { text: messageText(messageId), messageId, wait: true } : { messageId };
  const start = nowMs();
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer: unknown = await res.json();
  const end = nowMs();
  if (res.status !== 200 || !isRecord(answer) || answer.status !== 'completed') {
    throw new Error(`${kind} message ${messageId}: HTTP ${res.status} ${JSON.stringify(answer)}`);
  }
  if (kind === 'real') {
    const replies = answer.replies;
    const first: unknown = Array.isArray(replies) ? replies[0] : undefined;
    if (!isRecord(first) || first.text !== FAKE_REPLY) throw new Error(`real message ${messageId}: unexpected replies ${JSON.stringify(replies)}`);
  }
  const runId = typeof answer.runId === 'string' ? answer.runId : undefined;
  return { kind, conversation, messageId, start, end, ms: end - start, ...(runId ? { runId } : {}) };
}

const FAKE_REPLY = 'ok';
const messageText = (messageId: string): string => `bench message ${messageId}`;

// ---------------------------------------------------------------------------------------------------
// Phases

interface Sequential {
  real: Sample[];
  floor: Sample[];
}

/**
 * `count` messages into one conversation per path, one at a time, alternating real and floor message by
 * message (and which goes first), so drift and noise land on both.
 */
async function sequential(target: Target, conversation: string, prefix: string, count: number): Promise<Sequential> {
  const result: Sequential = { real: [], floor: [] };
  for (let i = 0; i < count; i++) {
    const order: Kind[] = i % 2 === 0 ? ['real', 'floor'] : ['floor', 'real'];
    for (const kind of order) result[kind].push(await send(target, kind, conversation, `${prefix}-${i}`));
  }
  return result;
}

interface Round {
  kind: Kind;
  round: number;
  messages: number;
  seconds: number;
  perSecond: number;
  latency: Stats;
}

/** `conversations` fresh conversations in parallel, each sending `perConversation` messages one after another. */
async function throughputRound(target: Target, kind: Kind, round: number): Promise<Round> {
  const samples: Sample[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: settings.conversations }, async (_, c) => {
      const conversation = `tp-${round}-${c}`;
      for (let m = 0; m < settings.perConversation; m++) samples.push(await send(target, kind, conversation, `${conversation}-m${m}`));
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { kind, round, messages: samples.length, seconds, perSecond: samples.length / seconds, latency: stats(samples.map((s) => s.ms)) };
}

// ---------------------------------------------------------------------------------------------------
// Where the time goes: workflow histories

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];
type LongLike = number | { toNumber(): number } | null | undefined;

const num = (v: LongLike): number => (typeof v === 'number' ? v : v ? v.toNumber() : 0);

function eventMs(e: HistoryEvent | undefined): number {
  const t = e?.eventTime;
  return t ? num(t.seconds) * 1000 + (t.nanos ?? 0) / 1e6 : Number.NaN;
}

/** Per turn: milliseconds by component. The components of a turn add up to its measured round trip. */
type TurnParts = Map<string, number>;

const IN = 'in: HTTP + API + update-with-start RPC';
const OUT = 'out: update result + API reply + HTTP';
const WFT_QUEUE = 'workflow tasks: schedule→start';
const WFT_RUN = 'workflow tasks: start→complete';
const OTHER = 'server: other';
const actQueue = (type: string): string => `activity ${type}: schedule→start`;
const actRun = (type: string): string => `activity ${type}: start→complete`;
const LLM_BEFORE = '  of which callModel before the LLM request';
const LLM_AFTER = '  of which callModel from the LLM request on';
const WFT_COUNT = '(workflow tasks per turn)';

/**
 * Splits each measured message into its turn's history events: from the workflow task that accepted
 * the update (found by update id) to the update's completion. `llmAt` (epoch ms the fake LLM received
 * the turn's request, by message id) splits callModel into before and after the model call.
 */
function turnBreakdown(events: HistoryEvent[], samples: Sample[], updateIdOf: (messageId: string) => string, llmAt?: Map<string, number>): TurnParts[] {
  const byId = new Map<number, HistoryEvent>();
  const acceptedAt = new Map<string, number>();
  const completedAt = new Map<string, number>();
  events.forEach((e, index) => {
    byId.set(num(e.eventId), e);
    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.meta?.updateId;
    if (accepted) acceptedAt.set(accepted, index);
    const completed = e.workflowExecutionUpdateCompletedEventAttributes?.meta?.updateId;
    if (completed) completedAt.set(completed, index);
  });
  const turns: TurnParts[] = [];
  for (const sample of samples) {
    const updateId = updateIdOf(sample.messageId);
    const acceptedIndex = acceptedAt.get(updateId);
    const completedIndex = completedAt.get(updateId);
    if (acceptedIndex === undefined || completedIndex === undefined) continue;
    let first = acceptedIndex;
    while (first > 0 && !events[first]?.workflowTaskScheduledEventAttributes) first--;
    const parts: TurnParts = new Map();
    const add = (key: string, ms: number) => parts.set(key, (parts.get(key) ?? 0) + ms);
    const turnStart = eventMs(events[first]);
    const turnEnd = eventMs(events[completedIndex]);
    add(IN, turnStart - sample.start);
    let serverKnown = 0;
    const addServer = (key: string, ms: number) => {
      add(key, ms);
      serverKnown += ms;
    };
    let workflowTasks = 0;
    for (let i = first; i <= completedIndex; i++) {
      const e = events[i];
      if (!e) continue;
      const wftStarted = e.workflowTaskStartedEventAttributes;
      if (wftStarted) addServer(WFT_QUEUE, eventMs(e) - eventMs(byId.get(num(wftStarted.scheduledEventId))));
      const wftCompleted = e.workflowTaskCompletedEventAttributes;
      if (wftCompleted) {
        workflowTasks++;
        addServer(WFT_RUN, eventMs(e) - eventMs(byId.get(num(wftCompleted.startedEventId))));
      }
      const actStarted = e.activityTaskStartedEventAttributes;
      if (actStarted) {
        const scheduled = byId.get(num(actStarted.scheduledEventId));
        addServer(actQueue(activityType(scheduled)), eventMs(e) - eventMs(scheduled));
      }
      const actCompleted = e.activityTaskCompletedEventAttributes;
      if (actCompleted) {
        const scheduled = byId.get(num(actCompleted.scheduledEventId));
        const started = byId.get(num(actCompleted.startedEventId));
        const type = activityType(scheduled);
        addServer(actRun(type), eventMs(e) - eventMs(started));
        const llm = llmAt?.get(sample.messageId);
        if (type === 'callModel' && llm !== undefined) {
          add(LLM_BEFORE, llm - eventMs(started));
          add(LLM_AFTER, eventMs(e) - llm);
        }
      }
    }
    add(OTHER, turnEnd - turnStart - serverKnown);
    add(OUT, sample.end - turnEnd);
    add(WFT_COUNT, workflowTasks);
    turns.push(parts);
  }
  return turns;
}

function activityType(scheduled: HistoryEvent | undefined): string {
  return scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? 'unknown';
}

async function historyEvents(client: Client, workflowId: string, runIds: (string | undefined)[]): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  for (const runId of new Set(runIds)) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    events.push(...(history.events ?? []));
  }
  return events;
}

interface BreakdownRow {
  component: string;
  realMean: number;
  realMedian: number;
  floorMean: number;
  floorMedian: number;
}

function breakdownRows(real: TurnParts[], floor: TurnParts[]): BreakdownRow[] {
  const keys = [...new Set([...real.flatMap((t) => [...t.keys()]), ...floor.flatMap((t) => [...t.keys()])])];
  const order = (k: string): number => {
    if (k === IN) return 0;
    if (k.startsWith('workflow')) return 1;
    if (k.startsWith('activity')) return 2;
    if (k.startsWith('  of which')) return 2;
    if (k === OTHER) return 3;
    if (k === OUT) return 4;
    return 5;
  };
  // Keep activities in the order a turn runs them; the sub-rows follow callModel's run row.
  const activityRank = (k: string): number =>
    ['recordInbound', 'callModel', 'deliverReply', 'floorNoop'].findIndex((t) => k.includes(` ${t}:`)) * 10 +
    (k.includes('start→complete') ? 1 : 0) +
    (k === LLM_BEFORE ? 12 : k === LLM_AFTER ? 13 : 0);
  keys.sort((a, b) => order(a) - order(b) || activityRank(a) - activityRank(b) || a.localeCompare(b));
  const col = (turns: TurnParts[], key: string) => turns.map((t) => t.get(key) ?? 0);
  return keys.map((component) => ({
    component,
    realMean: mean(col(real, component)),
    realMedian: median(col(real, component)),
    floorMean: mean(col(floor, component)),
    floorMedian: median(col(floor, component)),
  }));
}

/** Groups for "what dominates": time that exists on both paths is compared like for like. */
function groupOf(component: string): string | undefined {
  if (component === IN || component === OUT) return 'HTTP + API + client (in and out)';
  if (component.startsWith('workflow tasks')) return 'workflow tasks (queue + run)';
  if (component.endsWith('schedule→start')) return 'activity dispatch (schedule→start)';
  if (component.startsWith('activity ')) return `activity execution: ${component.slice('activity '.length).split(':')[0] ?? ''}`;
  if (component === OTHER) return 'server: other';
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Setup and teardown

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function listeningUrl(address: ReturnType<net.Server['address']>): string {
  if (typeof address !== 'object' || !address) throw new Error('server is not listening on a TCP port');
  return `http://127.0.0.1:${address.port}`;
}

async function main(): Promise<void> {
  const logger = createLogger('spacebot-bench', process.env.LOG_LEVEL ?? 'warn');
  installTemporalRuntime(logger);
  const stops: { name: string; stop: () => Promise<void> }[] = [];
  const onStop = (name: string, stop: () => Promise<void>) => stops.push({ name, stop });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-bench-'));
  onStop('temp dir', async () => rmSync(dir, { recursive: true, force: true }));

  try {
    const t0 = performance.now();
    // The fake LLM answers every chat request at once with plain text; it notes when each turn's request arrived.
    const fake = await startFakeLlm();
    onStop('fake LLM', () => fake.close());
    let llmAt: Map<string, number> | undefined;
    let llmCalls = 0;
    const answer = (req: NeutralRequest) => {
      llmCalls++;
      const messageId = req.lastUserText.startsWith('bench message ') ? req.lastUserText.slice('bench message '.length) : undefined;
      if (llmAt && messageId) llmAt.set(messageId, nowMs());
      return { text: FAKE_REPLY };
    };
    fake.script(answer);

    const cli = await findTemporalCli();
    if (!cli) throw new Error(missingCliMessage());
    const [port, uiPort] = [await freePort(), await freePort()];
    const devServer = await startDevServer({ cliPath: cli.path, dataDir: path.join(dir, 'temporal'), port, uiPort, namespace: NAMESPACE, logger });
    onStop('Temporal dev server', () => devServer.stop());

    // Exactly what `npm start` composes (database, Temporal client, worker, API), on this dev server.
    const dataDir = path.join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const config = loadConfig({
      cwd: dir,
      env: {
        SPACEBOT_DATA_DIR: dataDir,
        TEMPORAL_ADDRESS: devServer.address,
        TEMPORAL_NAMESPACE: NAMESPACE,
        SPACEBOT_TASK_QUEUE: TASK_QUEUE,
        SPACEBOT_HOST: '127.0.0.1',
        SPACEBOT_PORT: '0',
        SPACEBOT_API_TOKEN: TOKEN,
        ANTHROPIC_API_KEY: 'sk-ant-bench-key-123456',
        ANTHROPIC_BASE_URL: fake.url,
        ...(process.env.BENCH_DATABASE_URL ? { DATABASE_URL: process.env.BENCH_DATABASE_URL } : {}),
      },
    });
    const app = await startSpacebot(config, logger, { worker: true, api: true });
    onStop('Spacebot (API, worker, Temporal client, database)', () => app.stop());
    if (!app.apiUrl) throw new Error('the API did not start');

    // The floor: its own client connection, worker and HTTP route, on the same server and in the same process.
    const connection = await Connection.connect({ address: devServer.address });
    onStop('floor client connection', () => connection.close());
    const client = new Client({ connection, namespace: NAMESPACE });
    const nativeConnection = await NativeConnection.connect({ address: devServer.address });
    onStop('floor worker connection', () => nativeConnection.close());
    const floorWorker = await Worker.create({
      connection: nativeConnection,
      namespace: NAMESPACE,
      taskQueue: FLOOR_TASK_QUEUE,
      workflowsPath: path.join(HERE, 'floor-workflow.ts'),
      activities: floorActivities,
    });
    const floorRunning = floorWorker.run();
    onStop('floor worker', async () => {
      if (floorWorker.getState() === 'RUNNING') floorWorker.shutdown();
      await floorRunning;
    });

    // Same kind of server and logger as the API (buildApi), with one route and nothing else.
    const floorApi = Fastify({ loggerInstance: logger.child({ component: 'floor-api' }) as FastifyBaseLogger });
    floorApi.post<{ Params: { conversation: string }; Body: { messageId: string } }>('/floor/:conversation', async (request, reply) => {
      const { messageId } = request.body;
      const result = await client.workflow.executeUpdateWithStart(floorMessageUpdate, {
        args: [{ messageId }],
        updateId: floorUpdateId(messageId),
        startWorkflowOperation: new WithStartWorkflowOperation<typeof floorWorkflow>(FLOOR_WORKFLOW_TYPE, {
          workflowId: floorWorkflowId(request.params.conversation),
          taskQueue: FLOOR_TASK_QUEUE,
          args: [],
          workflowIdConflictPolicy: 'USE_EXISTING',
        }),
      });
      return reply.code(200).send({ status: 'completed', ...result });
    });
    await floorApi.listen({ port: 0, host: '127.0.0.1' });
    onStop('floor API', () => floorApi.close());
    const target: Target = { realUrl: app.apiUrl, floorUrl: listeningUrl(floorApi.server.address()) };
    out(`setup ${fmt((performance.now() - t0) / 1000, 1)} s: Temporal ${devServer.address} (${cli.path}), API ${target.realUrl}, floor ${target.floorUrl}, database ${process.env.BENCH_DATABASE_URL ? 'BENCH_DATABASE_URL' : 'PGlite (embedded)'}`);

    await run(target, client, fake.reset.bind(fake), () => fake.script(answer), {
      startLlmClock: () => (llmAt = new Map()),
      stopLlmClock: () => {
        const at = llmAt;
        llmAt = undefined;
        return at ?? new Map();
      },
      llmCalls: () => llmCalls,
    }, cli.path);
  } finally {
    for (const { name, stop } of stops.reverse()) {
      await stop().catch((err: unknown) => console.error(`bench: stopping ${name} failed:`, err));
    }
  }
}

const floorUpdateId = (messageId: string): string => `msg:${messageId}`;
const realUpdateId = (messageId: string): string => `msg:${messageId}:wait:0`;

interface LlmProbe {
  startLlmClock(): void;
  stopLlmClock(): Map<string, number>;
  llmCalls(): number;
}

async function run(target: Target, client: Client, resetFake: () => void, scriptFake: () => void, llm: LlmProbe, cliPath: string): Promise<void> {
  const { warmup, messages, conversations, perConversation, rounds } = settings;
  const conversation = 'seq';
  const benchStarted = performance.now();

  out(`warm-up: ${warmup} messages per path (also starts the sequential conversation's workflows)`);
  await sequential(target, conversation, 'warm', warmup);

  out(`sequential: ${messages} messages per path in one conversation, alternating real and floor`);
  const callsBefore = llm.llmCalls();
  llm.startLlmClock();
  const seq = await sequential(target, conversation, 'seq', messages);
  const llmAt = llm.stopLlmClock();
  const llmCalls = llm.llmCalls() - callsBefore;
  if (llmCalls !== messages) throw new Error(`expected ${messages} LLM calls in the sequential phase, the fake saw ${llmCalls}`);
  // The fake keeps every request it saw; drop them between phases so memory stays flat.
  resetFake();
  scriptFake();

  const order: Kind[] = [];
  for (let r = 0; r < rounds; r++) order.push(...((r % 2 === 0 ? ['real', 'floor'] : ['floor', 'real']) as Kind[]));
  out(`throughput: ${conversations} conversations in parallel × ${perConversation} messages, rounds ${order.join(', ')}`);
  const tp: Round[] = [];
  for (const [i, kind] of order.entries()) {
    const round = await throughputRound(target, kind, i);
    tp.push(round);
    out(`  round ${i} ${kind.padEnd(5)} ${round.messages} messages in ${fmt(round.seconds)} s = ${fmt(round.perSecond, 1)} msg/s (p50 ${fmt(round.latency.p50, 1)} ms, p99 ${fmt(round.latency.p99, 1)} ms)`);
    resetFake();
    scriptFake();
  }
  const measuredSeconds = (performance.now() - benchStarted) / 1000;

  // ---- Results table
  const realSeq = stats(seq.real.map((s) => s.ms));
  const floorSeq = stats(seq.floor.map((s) => s.ms));
  const throughput = (kind: Kind) => {
    const mine = tp.filter((r) => r.kind === kind);
    return mine.reduce((s, r) => s + r.messages, 0) / mine.reduce((s, r) => s + r.seconds, 0);
  };
  const realTp = throughput('real');
  const floorTp = throughput('floor');
  const ratios = {
    p50: realSeq.p50 / floorSeq.p50,
    p99: realSeq.p99 / floorSeq.p99,
    mean: realSeq.mean / floorSeq.mean,
    throughput: floorTp / realTp,
  };

  out();
  out(`Sequential round trip, ${messages} messages per path (ms)     real      floor   real/floor`);
  for (const key of ['p50', 'p90', 'p99', 'mean', 'min', 'max'] as const) {
    out(`  ${key.padEnd(56)} ${fmt(realSeq[key]).padStart(8)} ${fmt(floorSeq[key]).padStart(10)} ${fmt(realSeq[key] / floorSeq[key]).padStart(10)}`);
  }
  out(`Throughput, ${conversations} conversations × ${perConversation} messages (msg/s)${' '.repeat(8)}${fmt(realTp, 1).padStart(8)} ${fmt(floorTp, 1).padStart(10)} ${fmt(realTp / floorTp).padStart(10)}`);
  out();
  out(`Ratios (higher = worse, 1.00 = as cheap as the floor)`);
  out(`  p50  real/floor            ${fmt(ratios.p50)}   target ≤ 2.00: ${ratios.p50 <= 2 ? 'MET' : 'NOT MET'}`);
  out(`  p99  real/floor            ${fmt(ratios.p99)}`);
  out(`  mean real/floor            ${fmt(ratios.mean)}`);
  out(`  throughput floor/real      ${fmt(ratios.throughput)}   (the floor handles this many times the real path's messages per second)`);

  // ---- Where the time goes
  const realEvents = await historyEvents(client, channelWorkflowId({ agentId: AGENT, platform: WEBHOOK_PLATFORM, conversationId: conversation }), seq.real.map((s) => s.runId));
  const floorEvents = await historyEvents(client, floorWorkflowId(conversation), [undefined]);
  const realTurns = turnBreakdown(realEvents, seq.real, realUpdateId, llmAt);
  const floorTurns = turnBreakdown(floorEvents, seq.floor, floorUpdateId);
  const rows = breakdownRows(realTurns, floorTurns);
  out();
  out(`Where a sequential message's time goes, per-turn means over ${realTurns.length} real and ${floorTurns.length} floor turns (ms)`);
  out(`  ${'component'.padEnd(52)} ${'real'.padStart(8)} ${'(median)'.padStart(9)} ${'floor'.padStart(8)} ${'(median)'.padStart(9)} ${'real-floor'.padStart(11)}`);
  for (const r of rows) {
    const isCount = r.component === WFT_COUNT;
    const d = isCount ? 1 : 2;
    out(`  ${r.component.padEnd(52)} ${fmt(r.realMean, d).padStart(8)} ${fmt(r.realMedian, d).padStart(9)} ${fmt(r.floorMean, d).padStart(8)} ${fmt(r.floorMedian, d).padStart(9)} ${(isCount ? '' : fmt(r.realMean - r.floorMean, d)).padStart(11)}`);
  }
  const realTotal = mean(seq.real.map((s) => s.ms));
  const floorTotal = mean(seq.floor.map((s) => s.ms));
  out(`  ${'= measured round trip (mean)'.padEnd(52)} ${fmt(realTotal).padStart(8)} ${''.padStart(9)} ${fmt(floorTotal).padStart(8)} ${''.padStart(9)} ${fmt(realTotal - floorTotal).padStart(11)}`);

  const groups = new Map<string, { real: number; floor: number }>();
  for (const r of rows) {
    const g = groupOf(r.component);
    if (!g) continue;
    const v = groups.get(g) ?? { real: 0, floor: 0 };
    groups.set(g, { real: v.real + r.realMean, floor: v.floor + r.floorMean });
  }
  const grouped = [...groups.entries()].map(([group, v]) => ({ group, real: v.real, floor: v.floor, extra: v.real - v.floor }));
  grouped.sort((a, b) => b.extra - a.extra);
  const gap = realTotal - floorTotal;
  out();
  out(`The ${fmt(gap)} ms a real message costs over the floor (means), by group:`);
  for (const g of grouped) out(`  ${g.group.padEnd(52)} ${fmt(g.extra).padStart(8)} ms  ${fmt((100 * g.extra) / gap, 0).padStart(4)}%   (real ${fmt(g.real)}, floor ${fmt(g.floor)})`);
  const largestComponent = [...rows].filter((r) => groupOf(r.component)).sort((a, b) => b.realMean - a.realMean)[0];
  const largestGap = grouped[0];
  if (largestComponent && largestGap) {
    out();
    out(
      `Conclusion: the largest single component of a real round trip is ${largestComponent.component.trim()} ` +
        `(${fmt(largestComponent.realMean)} ms of ${fmt(realTotal)}, ${fmt((100 * largestComponent.realMean) / realTotal, 0)}%); ` +
        `the largest part of the overhead over the floor is ${largestGap.group} (${fmt(largestGap.extra)} of ${fmt(gap)} ms, ${fmt((100 * largestGap.extra) / gap, 0)}%).`,
    );
  }

  // ---- JSON
  const resultsDir = path.join(HERE, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = path.join(resultsDir, `orchestration-${stamp}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        at: new Date().toISOString(),
        settings,
        environment: { node: process.version, platform: `${os.platform()} ${os.release()}`, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, temporalCli: cliPath, database: process.env.BENCH_DATABASE_URL ? 'external' : 'pglite' },
        measuredSeconds,
        sequential: { real: realSeq, floor: floorSeq },
        throughput: { realPerSecond: realTp, floorPerSecond: floorTp, rounds: tp },
        ratios,
        targetP50RatioMet: ratios.p50 <= 2,
        breakdown: { turns: { real: realTurns.length, floor: floorTurns.length }, rows, overheadByGroup: grouped },
        samples: { real: seq.real.map((s) => s.ms), floor: seq.floor.map((s) => s.ms) },
      },
      null,
      2,
    )}\n`,
  );
  out();
  out(`results: ${path.relative(process.cwd(), file)} (measurement ${fmt(measuredSeconds, 1)} s)`);
}

// A clean run exits by itself once everything is stopped; this only reports a handle that was left open.
main()
  .then(() => {
    setTimeout(() => {
      console.error('bench: still running 20 s after shutdown; something was not stopped. Exiting with code 1.');
      process.exit(1);
    }, 20_000).unref();
  })
  .catch((err: unknown) => {
    console.error('bench failed:', err);
    process.exitCode = 1;
  });
