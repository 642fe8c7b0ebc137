/**
 * `npm run bench`: per-message orchestration overhead of Spacebot with an LLM that answers instantly,
 * next to a floor measured in the same run on the same Temporal server. See bench/README.md.
 *
 * Real path (what `npm start` runs, composed by startSpacebot itself): HTTP POST
 * /v1/agents/main/conversations/<c>/messages with `wait: true` → Fastify API (bearer auth, zod) →
 * ChannelClient.submit (update-with-start until ACCEPTED, then a poll for the result) → channel
 * workflow → recordInbound → callModel (prompt + context from the database, Anthropic SDK → fake LLM,
 * two writes) → deliverReply → update result → HTTP reply.
 *
 * Floor (bench/floor-*.ts): HTTP POST /floor/<c> on a minimal Fastify server in the same process →
 * client.workflow.executeUpdateWithStart (USE_EXISTING, one long-lived workflow per conversation, as
 * for channels) → one workflow task accepts the update and schedules one no-op activity → the activity
 * runs on a Worker (default options, same process, same Temporal runtime, own task queue) → a second
 * workflow task completes the update → HTTP reply. So the floor includes one HTTP hop, the
 * update-with-start RPC and its result, two workflow tasks and one activity task; no database, no LLM
 * call, no validation, no auth.
 *
 * Knobs (environment): BENCH_WARMUP (20), BENCH_MESSAGES (200), BENCH_CONVERSATIONS (50),
 * BENCH_PER_CONVERSATION (10), BENCH_ROUNDS (2), BENCH_ROUND_TIMEOUT_S (120), BENCH_DB_POOL (1; for
 * BENCH_DATABASE_URL only: embedded PGlite always gets one connection, see README),
 * BENCH_DATABASE_URL (unset: embedded PGlite), BENCH_TEMPORAL_ADDRESS (unset: start a dev server),
 * LOG_LEVEL (warn).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection, WithStartWorkflowOperation, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { WEBHOOK_PLATFORM } from '../adapters/webhook.js';
import { findAgent, loadConfig } from '../lib/config/load.js';
import type { SpacebotConfig } from '../lib/config/types.js';
import { ProviderRegistry } from '../lib/llm/registry.js';
import type { ChatMessage } from '../lib/llm/types.js';
import { buildSystemPrompt } from '../lib/prompts/system-prompt.js';
import { CHANNEL_TOOL_DEFINITIONS } from '../lib/tools/channel-tools.js';
import { createLogger } from '../lib/logger.js';
import { startSpacebot } from '../lib/runtime/app.js';
import { findTemporalCli, missingCliMessage } from '../lib/temporal/cli-path.js';
import { startDevServer } from '../lib/temporal/dev-server.js';
import { installTemporalRuntime } from '../lib/temporal/runtime-logger.js';
import { startFakeLlm, type NeutralRequest, type ScriptStep } from '../test/fake-llm/server.js';
import { freePorts } from '../test/helpers/ports.js';
import { channelWorkflowId } from '../workflows/channel-contract.js';
import * as floorActivities from './floor-activities.js';
import { FLOOR_WORKFLOW_TYPE, floorMessageUpdate, floorWorkflowId } from './floor-contract.js';
import type { floorWorkflow } from './floor-workflow.js';
import { percentile } from './percentile.js';
import { intEnv } from './env.js';

// ---------------------------------------------------------------------------------------------------
// Settings

const HERE = path.dirname(fileURLToPath(import.meta.url));
const AGENT = 'main';
const TOKEN = 'bench-token-0123456789abcdef-ghijklmn';
const TASK_QUEUE = 'spacebot-bench';
const FLOOR_TASK_QUEUE = 'spacebot-bench-floor';
const NAMESPACE = 'default';
const FAKE_REPLY = 'ok';
const TEXT_PREFIX = 'bench message ';

const settings = {
  warmup: intEnv('BENCH_WARMUP', 20),
  messages: intEnv('BENCH_MESSAGES', 200),
  conversations: intEnv('BENCH_CONVERSATIONS', 50),
  perConversation: intEnv('BENCH_PER_CONVERSATION', 10),
  rounds: intEnv('BENCH_ROUNDS', 2),
  roundTimeoutSeconds: intEnv('BENCH_ROUND_TIMEOUT_S', 120),
  dbPool: intEnv('BENCH_DB_POOL', 1),
};

/** Makes this run's workflow ids unique, so a reused server (BENCH_TEMPORAL_ADDRESS) gets fresh conversations. */
const RUN_TAG = Math.random().toString(36).slice(2, 8);
/** How long stopping one component may take before the bench reports it and moves on. */
const STOP_TIMEOUT_MS = 30_000;

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

/** Nearest-rank percentiles (p99 of 200 samples is the 198th smallest). */
function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    mean: mean(sorted),
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

function mean(values: number[]): number {
  return values.length ? values.reduce((s, v) => s + v, 0) / values.length : Number.NaN;
}
const median = (values: number[]): number => percentile(values, 50);
const fmt = (v: number, digits = 2): string => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const pct = (part: number, whole: number): string => `${fmt((100 * part) / whole, 0)}%`;

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

/**
 * One message through a path. Throws unless the answer is a completed turn (for the real path: one
 * carrying the fake LLM's reply), so a broken path cannot pass for a fast one.
 */
async function send(target: Target, kind: Kind, conversation: string, messageId: string, signal?: AbortSignal): Promise<Sample> {
  const url =
    kind === 'real' ? `${target.realUrl}/v1/agents/${AGENT}/conversations/${conversation}/messages` : `${target.floorUrl}/floor/${conversation}`;
  const body = kind === 'real' ? { text: `${TEXT_PREFIX}${messageId}`, messageId, wait: true } : { messageId };
  const start = nowMs();
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
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

// ---------------------------------------------------------------------------------------------------
// Phases

interface Sequential {
  real: Sample[];
  floor: Sample[];
}

/**
 * `count` messages into one conversation per path, one at a time, alternating real and floor message by
 * message (and which of the two goes first), so drift and noise land on both.
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
  conversations: string[];
  /** Messages answered with a completed turn, and those that failed or ran past the round's deadline. */
  completed: number;
  failed: number;
  firstError?: string;
  seconds: number;
  perSecond: number;
  latency: Stats;
  /** Each conversation's first message (it also starts the workflow) and the others. */
  firstMessage: Stats;
  laterMessages: Stats;
  /** Real rounds: activity attempts beyond the first, and the first distinct failure messages. */
  activityRetries?: number;
  retryReasons?: string[];
}

/**
 * `conversations` fresh conversations in parallel, each sending `perConversation` messages one after
 * another. Bounded: past the deadline no new message is sent and open requests are abandoned.
 */
async function throughputRound(target: Target, kind: Kind, round: number): Promise<Round> {
  const samples: Sample[] = [];
  const firsts: number[] = [];
  const deadline = AbortSignal.timeout(settings.roundTimeoutSeconds * 1000);
  let failed = 0;
  let firstError: string | undefined;
  const conversations = Array.from({ length: settings.conversations }, (_, c) => `tp-${RUN_TAG}-${round}-${c}`);
  const started = performance.now();
  await Promise.all(
    conversations.map(async (conversation) => {
      for (let m = 0; m < settings.perConversation; m++) {
        if (deadline.aborted) {
          failed += settings.perConversation - m;
          return;
        }
        try {
          const sample = await send(target, kind, conversation, `${conversation}-m${m}`, deadline);
          samples.push(sample);
          if (m === 0) firsts.push(sample.ms);
        } catch (err) {
          failed++;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    kind,
    round,
    conversations,
    completed: samples.length,
    failed,
    ...(firstError ? { firstError } : {}),
    seconds,
    perSecond: samples.length / seconds,
    latency: stats(samples.map((s) => s.ms)),
    firstMessage: stats(firsts),
    laterMessages: stats(samples.filter((s) => !s.messageId.endsWith('-m0')).map((s) => s.ms)),
  };
}

/** Activity retries in a real round's workflows: an attempt > 1 on a started activity, with the failure before it. */
async function countRetries(client: Client, round: Round): Promise<void> {
  let retries = 0;
  const reasons = new Set<string>();
  for (const conversation of round.conversations) {
    const id = channelWorkflowId({ agentId: AGENT, platform: WEBHOOK_PLATFORM, conversationId: conversation });
    for (const e of await historyEvents(client, id, [undefined])) {
      const started = e.activityTaskStartedEventAttributes;
      if (!started || (started.attempt ?? 1) <= 1) continue;
      retries += (started.attempt ?? 1) - 1;
      const reason = started.lastFailure?.message;
      if (reason && reasons.size < 3) reasons.add(reason.slice(0, 160));
    }
  }
  round.activityRetries = retries;
  round.retryReasons = [...reasons];
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

async function historyEvents(client: Client, workflowId: string, runIds: (string | undefined)[]): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  for (const runId of new Set(runIds)) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    events.push(...(history.events ?? []));
  }
  return events;
}

/** Per turn: milliseconds by component. A turn's components (sub-rows aside) add up to its measured round trip. */
type TurnParts = Map<string, number>;

const IN = 'in: HTTP + API + update RPC, to 1st task scheduled';
const OUT = 'out: update completed → HTTP response read';
const WFT_FIRST_QUEUE = 'workflow task 1 (update): schedule→start';
const WFT_QUEUE = 'workflow tasks 2..n: schedule→start';
const WFT_RUN = 'workflow tasks: start→complete, w/o local acts';
const OTHER = 'server: other';
const actQueue = (type: string): string => `activity ${type}: schedule→start`;
const actRun = (type: string): string => `activity ${type}: start→complete`;
/** From the workflow task's start (or the previous local activity's completion) to this one's completion. */
const localRun = (type: string): string => `local activity ${type}: in workflow task`;
const LLM_BEFORE = '  callModel: start → LLM request received';
const LLM_AFTER = '  callModel: LLM request received → complete';
const WFT_COUNT = '(workflow tasks per turn)';
const SUB_ROWS = new Set([LLM_BEFORE, LLM_AFTER, WFT_COUNT]);

/**
 * Splits each measured message along its turn's history events: from the workflow task that accepted
 * the update (found by update id) to the update's completion, plus the client-side time before and
 * after. `llmAt` (epoch ms the fake LLM received each message's request) splits callModel in two.
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
    const acceptedIndex = acceptedAt.get(updateIdOf(sample.messageId));
    const completedIndex = completedAt.get(updateIdOf(sample.messageId));
    if (acceptedIndex === undefined || completedIndex === undefined) continue;
    let first = acceptedIndex;
    while (first > 0 && !events[first]?.workflowTaskScheduledEventAttributes) first--;
    const parts: TurnParts = new Map();
    const add = (key: string, ms: number) => parts.set(key, (parts.get(key) ?? 0) + ms);
    const turnStart = eventMs(events[first]);
    const turnEnd = eventMs(events[completedIndex]);
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
      if (wftStarted) addServer(workflowTasks === 0 ? WFT_FIRST_QUEUE : WFT_QUEUE, eventMs(e) - eventMs(byId.get(num(wftStarted.scheduledEventId))));
      const wftCompleted = e.workflowTaskCompletedEventAttributes;
      if (wftCompleted) {
        workflowTasks++;
        // Local activities ran inside this task; their markers follow its completion event.
        let from = eventMs(byId.get(num(wftCompleted.startedEventId)));
        for (const marker of localActivitiesAfter(events, i)) {
          addServer(localRun(marker.type), marker.completeMs - from);
          from = marker.completeMs;
        }
        addServer(WFT_RUN, eventMs(e) - from);
      }
      const actStarted = e.activityTaskStartedEventAttributes;
      if (actStarted) {
        const scheduled = byId.get(num(actStarted.scheduledEventId));
        addServer(actQueue(activityType(scheduled)), eventMs(e) - eventMs(scheduled));
      }
      const actCompleted = e.activityTaskCompletedEventAttributes;
      if (actCompleted) {
        const type = activityType(byId.get(num(actCompleted.scheduledEventId)));
        const startedAt = eventMs(byId.get(num(actCompleted.startedEventId)));
        addServer(actRun(type), eventMs(e) - startedAt);
        const llm = llmAt?.get(sample.messageId);
        if (type === 'callModel' && llm !== undefined) {
          add(LLM_BEFORE, llm - startedAt);
          add(LLM_AFTER, eventMs(e) - llm);
        }
      }
    }
    add(IN, turnStart - sample.start);
    add(OTHER, turnEnd - turnStart - serverKnown);
    add(OUT, sample.end - turnEnd);
    add(WFT_COUNT, workflowTasks);
    turns.push(parts);
  }
  return turns;
}

/**
 * The local activities recorded by the workflow task completed at `index`: Temporal's core SDK writes
 * one `core_local_activity` marker each, whose data holds the type and the worker's completion time.
 */
function localActivitiesAfter(events: HistoryEvent[], index: number): { type: string; completeMs: number }[] {
  const found: { type: string; completeMs: number }[] = [];
  for (let i = index + 1; i < events.length && !events[i]?.workflowTaskScheduledEventAttributes; i++) {
    const marker = events[i]?.markerRecordedEventAttributes;
    const data = marker?.markerName === 'core_local_activity' ? marker.details?.data?.payloads?.[0]?.data : undefined;
    if (!data) continue;
    try {
      const parsed: unknown = JSON.parse(Buffer.from(data).toString('utf8'));
      const time = isRecord(parsed) ? parsed.complete_time : undefined;
      if (!isRecord(parsed) || !isRecord(time) || typeof time.seconds !== 'number') continue;
      const type = typeof parsed.activity_type === 'string' ? parsed.activity_type : 'unknown';
      found.push({ type, completeMs: time.seconds * 1000 + (typeof time.nanos === 'number' ? time.nanos : 0) / 1e6 });
    } catch {
      // Not the marker format this bench knows: its time stays in the workflow task's row.
    }
  }
  return found.sort((a, b) => a.completeMs - b.completeMs);
}

function activityType(scheduled: HistoryEvent | undefined): string {
  return scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? 'unknown';
}

interface BreakdownRow {
  component: string;
  realMean: number;
  realMedian: number;
  floorMean: number;
  floorMedian: number;
}

const ACTIVITY_ORDER = ['recordInbound', 'callModel', 'deliverReply', 'floorNoop'];

function rowRank(k: string): number {
  if (k === IN) return 0;
  if (k === WFT_FIRST_QUEUE) return 1;
  if (k === WFT_QUEUE) return 2;
  if (k === WFT_RUN) return 3;
  if (k === LLM_BEFORE) return 100 + 10 * ACTIVITY_ORDER.indexOf('callModel') + 2;
  if (k === LLM_AFTER) return 100 + 10 * ACTIVITY_ORDER.indexOf('callModel') + 3;
  if (k.startsWith('activity ') || k.startsWith('local activity ')) {
    const type = k.replace(/^(local )?activity /, '').split(':')[0] ?? '';
    const i = ACTIVITY_ORDER.indexOf(type);
    return 100 + 10 * (i === -1 ? ACTIVITY_ORDER.length : i) + (k.endsWith('start→complete') ? 1 : 0);
  }
  if (k === OTHER) return 200;
  if (k === OUT) return 201;
  return 300;
}

function breakdownRows(real: TurnParts[], floor: TurnParts[]): BreakdownRow[] {
  const keys = [...new Set([...real, ...floor].flatMap((t) => [...t.keys()]))];
  keys.sort((a, b) => rowRank(a) - rowRank(b) || a.localeCompare(b));
  const col = (turns: TurnParts[], key: string) => turns.map((t) => t.get(key) ?? 0);
  return keys.map((component) => ({
    component,
    realMean: mean(col(real, component)),
    realMedian: median(col(real, component)),
    floorMean: mean(col(floor, component)),
    floorMedian: median(col(floor, component)),
  }));
}

/** Kinds of time for "what dominates": both paths have each kind, so they compare like for like. */
const DISPATCH = 'Temporal dispatch waits (schedule→start)';
function groupOf(component: string): string | undefined {
  if (SUB_ROWS.has(component)) return undefined;
  if (component === IN || component === OUT) return 'HTTP + API + client, in and out';
  if (component.endsWith('schedule→start')) return DISPATCH;
  if (component === WFT_RUN) return 'workflow task processing (w/o local activities)';
  if (component.startsWith('local activity ')) return 'local activities inside workflow tasks';
  if (component.startsWith('activity ')) return 'activity execution (callModel | floorNoop)';
  return 'server: other';
}

// ---------------------------------------------------------------------------------------------------
// Probes: callModel's parts that the history cannot separate, timed on their own after the run

interface Probes {
  /** buildSystemPrompt (reads the prompt files). */
  systemPromptMs: number;
  /** One provider.complete against the fake LLM with a context as long as a turn's (history_turns). */
  llmCallMs: number;
  contextMessages: number;
}

async function runProbes(config: SpacebotConfig, iterations = 50): Promise<Probes> {
  const agent = findAgent(config, AGENT);
  if (!agent?.model) throw new Error(`agent ${AGENT} has no model`);
  const timeIt = async (f: () => Promise<unknown>): Promise<number> => {
    await f();
    const started = performance.now();
    for (let i = 0; i < iterations; i++) await f();
    return (performance.now() - started) / iterations;
  };
  const systemPromptMs = await timeIt(() => buildSystemPrompt(agent, 'channel'));
  const system = await buildSystemPrompt(agent, 'channel');
  const messages: ChatMessage[] = [];
  for (let t = 0; t < config.historyTurns; t++) {
    messages.push({ role: 'user', parts: [{ type: 'text', text: `${TEXT_PREFIX}probe-${t}` }] });
    messages.push({ role: 'assistant', parts: [{ type: 'text', text: FAKE_REPLY }] });
  }
  messages.push({ role: 'user', parts: [{ type: 'text', text: `${TEXT_PREFIX}probe` }] });
  const provider = new ProviderRegistry(config.providers).get(agent.model);
  const request = { model: agent.model.model, system, messages, tools: CHANNEL_TOOL_DEFINITIONS, maxOutputTokens: agent.maxOutputTokens };
  const llmCallMs = await timeIt(() => provider.complete(request));
  return { systemPromptMs, llmCallMs, contextMessages: messages.length };
}

// ---------------------------------------------------------------------------------------------------
// Setup and teardown

function listeningUrl(address: ReturnType<net.Server['address']>): string {
  if (typeof address !== 'object' || !address) throw new Error('server is not listening on a TCP port');
  return `http://127.0.0.1:${address.port}`;
}

async function stopWithin(name: string, stop: () => Promise<void>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([stop().then(() => 'stopped' as const), timedOut]);
    if (outcome === 'timeout') console.error(`bench: stopping ${name} did not finish within ${STOP_TIMEOUT_MS / 1000} s; moving on`);
    return outcome === 'stopped';
  } catch (err) {
    console.error(`bench: stopping ${name} failed:`, err);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** What the measurement needs from the setup. */
interface Bench {
  target: Target;
  client: Client;
  /** Epoch ms at which the fake LLM received each message's request, from startLlmClock on. */
  startLlmClock(): void;
  stopLlmClock(): Map<string, number>;
  llmCalls(): number;
  /** The fake keeps every request it saw: forget them between phases so memory stays flat. */
  forgetLlmRequests(): void;
  probes(): Promise<Probes>;
  describe: Record<string, string>;
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
    // The fake LLM answers every chat request at once with plain text, noting when each message's request arrived.
    const fake = await startFakeLlm();
    onStop('fake LLM', () => fake.close());
    let llmAt: Map<string, number> | undefined;
    let llmCalls = 0;
    const answer = (req: NeutralRequest): ScriptStep => {
      llmCalls++;
      if (llmAt && req.lastUserText.startsWith(TEXT_PREFIX)) llmAt.set(req.lastUserText.slice(TEXT_PREFIX.length), nowMs());
      return { text: FAKE_REPLY };
    };
    fake.script(answer);

    let address = process.env.BENCH_TEMPORAL_ADDRESS;
    let temporalDescription = `external ${address ?? ''}`;
    if (!address) {
      const cli = await findTemporalCli();
      if (!cli) throw new Error(missingCliMessage());
      const [port, uiPort] = (await freePorts(2)) as [number, number];
      // The server logs a warning for every gRPC call slower than a second, which throughput rounds
      // produce by the dozen; they would bury the results, so its log starts at error unless LOG_LEVEL says.
      const serverLogger = createLogger('spacebot-bench', process.env.LOG_LEVEL ?? 'error');
      const devServer = await startDevServer({ cliPath: cli.path, dataDir: path.join(dir, 'temporal'), port, uiPort, namespace: NAMESPACE, logger: serverLogger });
      onStop('Temporal dev server', () => devServer.stop());
      address = devServer.address;
      temporalDescription = `dev server ${address} (${cli.path})`;
    }

    // What `npm start` composes (database, Temporal client, worker, API), pointed at this server.
    const dataDir = path.join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const configFile = path.join(dir, 'spacebot.toml');
    writeFileSync(configFile, `[database]\npool_size = ${settings.dbPool}\n`);
    const config = loadConfig({
      file: configFile,
      cwd: dir,
      env: {
        SPACEBOT_DATA_DIR: dataDir,
        TEMPORAL_ADDRESS: address,
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
    const connection = await Connection.connect({ address });
    onStop('floor client connection', () => connection.close());
    const client = new Client({ connection, namespace: NAMESPACE });
    const nativeConnection = await NativeConnection.connect({ address });
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

    const describe = {
      temporal: temporalDescription,
      database: process.env.BENCH_DATABASE_URL ? `BENCH_DATABASE_URL, pool ${settings.dbPool}` : `embedded PGlite, pool ${settings.dbPool}`,
      api: app.apiUrl,
    };
    out(`setup ${fmt((performance.now() - t0) / 1000, 1)} s: Temporal ${describe.temporal}; database ${describe.database}; API ${describe.api}`);
    await measure({
      target: { realUrl: app.apiUrl, floorUrl: listeningUrl(floorApi.server.address()) },
      client,
      startLlmClock: () => (llmAt = new Map()),
      stopLlmClock: () => {
        const at = llmAt ?? new Map<string, number>();
        llmAt = undefined;
        return at;
      },
      llmCalls: () => llmCalls,
      forgetLlmRequests: () => {
        fake.reset();
        fake.script(answer);
      },
      probes: () => runProbes(config),
      describe,
    });
  } finally {
    let clean = true;
    for (const { name, stop } of stops.reverse()) clean = (await stopWithin(name, stop)) && clean;
    if (!clean) process.exitCode = 1;
  }
}

const floorUpdateId = (messageId: string): string => `msg:${messageId}`;
/** ChannelClient's update id for a `wait` message on its first hop. */
const realUpdateId = (messageId: string): string => `msg:${messageId}:wait:0`;

async function measure(bench: Bench): Promise<void> {
  const { warmup, messages, conversations, perConversation, rounds } = settings;
  const { target, client } = bench;
  const conversation = `seq-${RUN_TAG}`;
  const benchStarted = performance.now();

  out(`warm-up: ${warmup} messages per path (also creates the sequential conversation's workflows)`);
  await sequential(target, conversation, 'warm', warmup);

  out(`sequential: ${messages} messages per path in one conversation, alternating real and floor`);
  const callsBefore = bench.llmCalls();
  bench.startLlmClock();
  const seq = await sequential(target, conversation, 'seq', messages);
  const llmAt = bench.stopLlmClock();
  const llmCalls = bench.llmCalls() - callsBefore;
  if (llmCalls !== messages) throw new Error(`expected ${messages} LLM calls in the sequential phase, the fake saw ${llmCalls}`);
  bench.forgetLlmRequests();

  const order: Kind[] = [];
  for (let r = 0; r < rounds; r++) order.push(...(r % 2 === 0 ? (['real', 'floor'] as const) : (['floor', 'real'] as const)));
  out(`throughput: ${conversations} conversations in parallel × ${perConversation} messages each, rounds ${order.join(', ')}`);
  const tp: Round[] = [];
  for (const [i, kind] of order.entries()) {
    const round = await throughputRound(target, kind, i);
    if (kind === 'real') await countRetries(client, round);
    tp.push(round);
    const retries = round.activityRetries ? `, ${round.activityRetries} activity retries` : '';
    out(
      `  round ${i} ${kind.padEnd(5)} ${round.completed} messages in ${fmt(round.seconds)} s = ${fmt(round.perSecond, 1)} msg/s ` +
        `(latency p50 ${fmt(round.latency.p50, 0)} ms, p99 ${fmt(round.latency.p99, 0)} ms; ` +
        `first message p50 ${fmt(round.firstMessage.p50, 0)} ms, later p50 ${fmt(round.laterMessages.p50, 0)} ms${retries}` +
        `${round.failed ? `, ${round.failed} NOT ANSWERED` : ''})`,
    );
    if (round.firstError) out(`    first failure: ${round.firstError.slice(0, 300)}`);
    for (const reason of round.retryReasons ?? []) out(`    retried after: ${reason}`);
    bench.forgetLlmRequests();
  }
  const measuredSeconds = (performance.now() - benchStarted) / 1000;

  // ---- Results
  const realSeq = stats(seq.real.map((s) => s.ms));
  const floorSeq = stats(seq.floor.map((s) => s.ms));
  const throughput = (kind: Kind) => {
    const mine = tp.filter((r) => r.kind === kind);
    return mine.reduce((s, r) => s + r.completed, 0) / mine.reduce((s, r) => s + r.seconds, 0);
  };
  const realTp = throughput('real');
  const floorTp = throughput('floor');
  const unanswered = tp.reduce((s, r) => s + r.failed, 0);
  const ratios = { p50: realSeq.p50 / floorSeq.p50, p99: realSeq.p99 / floorSeq.p99, mean: realSeq.mean / floorSeq.mean, throughput: floorTp / realTp };

  out();
  out(`Sequential HTTP round trip, ${messages} messages per path (ms)       real      floor   real/floor`);
  for (const key of ['p50', 'p90', 'p99', 'mean', 'min', 'max'] as const) {
    out(`  ${key.padEnd(58)} ${fmt(realSeq[key]).padStart(8)} ${fmt(floorSeq[key]).padStart(10)} ${fmt(realSeq[key] / floorSeq[key]).padStart(10)}`);
  }
  out(
    `Throughput, ${conversations} conversations × ${perConversation} messages (msg/s)`.padEnd(60) +
      ` ${fmt(realTp, 1).padStart(8)} ${fmt(floorTp, 1).padStart(10)} ${fmt(realTp / floorTp).padStart(10)}`,
  );
  out();
  out('Ratios (higher = worse; 1.00 = as cheap as the floor)');
  out(`  p50  real/floor          ${fmt(ratios.p50).padStart(6)}   target ≤ 2.00: ${ratios.p50 <= 2 ? 'MET' : 'NOT MET'}`);
  out(`  p99  real/floor          ${fmt(ratios.p99).padStart(6)}`);
  out(`  mean real/floor          ${fmt(ratios.mean).padStart(6)}`);
  out(`  throughput floor/real    ${fmt(ratios.throughput).padStart(6)}   (the floor answers this many times as many messages per second)`);
  if (unanswered) out(`  WARNING: ${unanswered} throughput messages were not answered; see the rounds above and README "PGlite".`);

  // ---- Where the time goes
  const realEvents = await historyEvents(
    client,
    channelWorkflowId({ agentId: AGENT, platform: WEBHOOK_PLATFORM, conversationId: conversation }),
    seq.real.map((s) => s.runId),
  );
  const floorEvents = await historyEvents(client, floorWorkflowId(conversation), [undefined]);
  const realTurns = turnBreakdown(realEvents, seq.real, realUpdateId, llmAt);
  const floorTurns = turnBreakdown(floorEvents, seq.floor, floorUpdateId);
  const rows = breakdownRows(realTurns, floorTurns);
  const realTotal = realSeq.mean;
  const floorTotal = floorSeq.mean;
  out();
  out(`Where a sequential message's time goes: per-turn means over ${realTurns.length} real and ${floorTurns.length} floor turns (ms), from history event times`);
  out(`  ${'component'.padEnd(52)} ${'real'.padStart(8)} ${'median'.padStart(8)} ${'floor'.padStart(8)} ${'median'.padStart(8)} ${'real-floor'.padStart(11)}`);
  for (const r of rows) {
    const d = r.component === WFT_COUNT ? 1 : 2;
    out(
      `  ${r.component.padEnd(52)} ${fmt(r.realMean, d).padStart(8)} ${fmt(r.realMedian, d).padStart(8)} ${fmt(r.floorMean, d).padStart(8)} ` +
        `${fmt(r.floorMedian, d).padStart(8)} ${(r.component === WFT_COUNT ? '' : fmt(r.realMean - r.floorMean, d)).padStart(11)}`,
    );
  }
  out(`  ${'= measured round trip (mean)'.padEnd(52)} ${fmt(realTotal).padStart(8)} ${''.padStart(8)} ${fmt(floorTotal).padStart(8)} ${''.padStart(8)} ${fmt(realTotal - floorTotal).padStart(11)}`);

  const groups = new Map<string, { real: number; floor: number }>();
  for (const r of rows) {
    const g = groupOf(r.component);
    if (!g) continue;
    const v = groups.get(g) ?? { real: 0, floor: 0 };
    groups.set(g, { real: v.real + r.realMean, floor: v.floor + r.floorMean });
  }
  const grouped = [...groups.entries()].map(([group, v]) => ({ group, real: v.real, floor: v.floor, extra: v.real - v.floor })).sort((a, b) => b.extra - a.extra);
  const gap = realTotal - floorTotal;
  out();
  out(`The ${fmt(gap)} ms a real message costs over the floor (means), by kind of time:`);
  for (const g of grouped) {
    out(`  ${g.group.padEnd(52)} ${(g.extra >= 0 ? '+' : '') + fmt(g.extra)} ms`.padEnd(70) + `(real ${fmt(g.real)}, floor ${fmt(g.floor)})`);
  }
  const dispatch = grouped.find((g) => g.group === DISPATCH);
  if (dispatch && dispatch.extra < 0) {
    out(
      `  Note: the floor waits longer for dispatch. The dev server hands out tasks on its own polling cadence (up to ~50 ms a hop), ` +
        `so part of the real path's extra work (${fmt(gap - dispatch.extra)} ms) hides in waits the floor spends idle.`,
    );
  }

  const probes = await bench.probes();
  const callModelRun = rows.find((r) => r.component === actRun('callModel'))?.realMean ?? Number.NaN;
  const noopRun = rows.find((r) => r.component === actRun('floorNoop'))?.floorMean ?? Number.NaN;
  const callModelDb = callModelRun - noopRun - probes.llmCallMs - probes.systemPromptMs;
  out();
  out(`callModel's ${fmt(callModelRun)} ms, taken apart with probes timed on their own after the run:`);
  out(`  activity task overhead (the floor's no-op activity)  ${fmt(noopRun).padStart(8)} ms`);
  out(`  LLM call: SDK + HTTP to the instant fake (${probes.contextMessages} msgs)   ${fmt(probes.llmCallMs).padStart(8)} ms`);
  out(`  system prompt (buildSystemPrompt, file reads)        ${fmt(probes.systemPromptMs).padStart(8)} ms`);
  out(`  rest: context read + 2 writes (database)             ${fmt(callModelDb).padStart(8)} ms`);

  const positive = grouped.filter((g) => g.group !== DISPATCH && g.extra > 0).sort((a, b) => b.extra - a.extra);
  const largestRealGroup = [...grouped].sort((a, b) => b.real - a.real)[0];
  const top = positive[0];
  if (top && largestRealGroup) {
    const extraWork = positive.reduce((s, g) => s + g.extra, 0);
    out();
    out(
      `Conclusion: p50 ratio ${fmt(ratios.p50)} (${ratios.p50 <= 2 ? 'meets' : 'misses'} the ≤ 2.0 target). Of a real round trip (${fmt(realTotal)} ms mean) the largest part is ` +
        `${largestRealGroup.group} (${fmt(largestRealGroup.real)} ms, ${pct(largestRealGroup.real, realTotal)}), which the floor pays too. ` +
        `Of the real path's ${fmt(extraWork)} ms of extra work, ${top.group} is the largest (+${fmt(top.extra)} ms, ${pct(top.extra, extraWork)})` +
        (positive[1] ? `, then ${positive[1].group} (+${fmt(positive[1].extra)} ms)` : '') +
        '.',
    );
  }

  // ---- JSON
  const resultsDir = path.join(HERE, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `orchestration-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const report = {
    at: new Date().toISOString(),
    settings,
    environment: { node: process.version, platform: `${os.platform()} ${os.release()}`, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, ...bench.describe },
    measuredSeconds,
    sequential: { real: realSeq, floor: floorSeq },
    throughput: { realPerSecond: realTp, floorPerSecond: floorTp, unanswered, rounds: tp.map(({ conversations: _c, ...r }) => r) },
    ratios,
    targetP50RatioMet: ratios.p50 <= 2,
    breakdown: { turns: { real: realTurns.length, floor: floorTurns.length }, rows, overheadByKind: grouped, probes, callModelDatabaseMs: callModelDb },
    samplesMs: { real: seq.real.map((s) => s.ms), floor: seq.floor.map((s) => s.ms) },
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  out();
  out(`results: ${path.relative(process.cwd(), file)} (measurement took ${fmt(measuredSeconds, 1)} s)`);
}

main()
  .catch((err: unknown) => {
    console.error('bench failed:', err);
    process.exitCode = 1;
  })
  .finally(() => {
    // A clean run exits by itself once everything is stopped; this only reports a handle left open.
    setTimeout(() => {
      console.error('bench: the process is still alive 15 s after shutdown: something was not stopped (see above). Exiting.');
      process.exit(1);
    }, 15_000).unref();
  });
