/**
 * `npm run bench:adapters`: inbound-to-reply latency through each chat adapter, as a ratio to the
 * webhook path measured in the same run, with an LLM that answers at once. Target: ≤ 1.5.
 *
 * Both paths run through what `npm start` composes (startSpacebot with the worker, API and gateway
 * roles) on one Temporal dev server, one database and one fake LLM:
 * - webhook: POST /v1/agents/main/conversations/<c>/messages with `wait: true`, timed until the HTTP
 *   answer carries the reply;
 * - an adapter (Telegram, Discord, Slack): a message injected into the platform's fake (test/fake-platforms/),
 *   timed until the fake has received the reply (long poll → gateway → channel workflow → worker →
 *   delivery activity → the platform's REST API).
 * Samples alternate between the paths (webhook, adapter, webhook, ...) so drift affects both alike.
 *
 * To add an adapter, append a BenchPath to `adapterPaths` (its TOML table, env, and `send`).
 *
 * Knobs: BENCH_WARMUP (5), BENCH_MESSAGES (40), BENCH_CONVERSATIONS (8), LOG_LEVEL (warn).
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
import { startFakeLlm, type NeutralRequest, type ScriptStep } from '../test/fake-llm/server.js';
import { ChannelTypes, snowflake, startFakeDiscord, type FakeChannel } from '../test/fake-platforms/discord/server.js';
import { startFakeSlack } from '../test/fake-platforms/slack/server.js';
import { startFakeTelegram } from '../test/fake-platforms/telegram/server.js';
import { adapterToml } from '../test/helpers/gateway.js';
import { freePorts } from '../test/helpers/ports.js';
import { percentile } from './percentile.js';
import { intEnv } from './env.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TOKEN = 'bench-token-0123456789abcdef-ghijklmn';
const TARGET_RATIO = 1.5;

const settings = { warmup: intEnv('BENCH_WARMUP', 5), messages: intEnv('BENCH_MESSAGES', 40), conversations: intEnv('BENCH_CONVERSATIONS', 8) };
/**
 * Messages to one conversation are at least this far apart. Discord guild channels and Slack channels
 * are multi-user chats, where a message within 1500 ms of the one before starts a debounced burst
 * (docs/processes.md): the bench measures the adapters, not that deliberate wait.
 */
const MIN_GAP_MS = 1_600;

/** One way in: set up before Spacebot starts, then `send` resolves when the reply has come back. */
interface BenchPath {
  name: string;
  /** TOML appended to the config (its `[adapters.…]` table). */
  toml: string;
  env: Record<string, string>;
  /** Sends message `n` in conversation `conversation` and resolves once its reply was observed. */
  send(n: number, conversation: number): Promise<void>;
  close(): Promise<void>;
}

interface Stats {
  samples: number;
  medianMs: number;
  p95Ms: number;
  meanMs: number;
}

function stats(values: number[]): Stats {
  return { samples: values.length, medianMs: round(percentile(values, 50)), p95Ms: round(percentile(values, 95)), meanMs: round(values.reduce((a, b) => a + b, 0) / values.length) };
}

const round = (n: number) => Math.round(n * 10) / 10;
const out = (line = ''): void => void process.stdout.write(`${line}\n`);

async function waitFor(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    // Short polling keeps the observation error small next to a reply's latency.
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function telegramPath(): Promise<BenchPath> {
  const fake = await startFakeTelegram();
  const user = { id: 7, is_bot: false, first_name: 'Bench' };
  return {
    name: 'telegram',
    toml: adapterToml('telegram', 'default', { api_root: fake.url, poll_timeout_seconds: 10 }),
    env: { TELEGRAM_BOT_TOKEN: fake.token },
    async send(n, conversation) {
      const chatId = 1000 + conversation;
      const before = fake.sent.filter((m) => m.chat_id === chatId).length;
      fake.inject({ chat: { id: chatId, type: 'private' }, from: user, text: `bench ${n}` });
      await waitFor(() => fake.sent.filter((m) => m.chat_id === chatId).length > before, `telegram reply ${n}`);
    },
    close: () => fake.close(),
  };
}

/** Discord: one guild with a text channel per conversation; messages from a user, no mention needed. */
async function discordPath(): Promise<BenchPath> {
  const guildId = snowflake();
  const channels: FakeChannel[] = Array.from({ length: settings.conversations }, (_, i) => ({ id: snowflake(), name: `bench-${i}`, type: ChannelTypes.GuildText, guildId }));
  const fake = await startFakeDiscord({ guilds: [{ id: guildId, name: 'Bench', channels }] });
  const user = { id: snowflake(), username: 'bench' };
  return {
    name: 'discord',
    toml: adapterToml('discord', 'default', { api_url: fake.apiUrl, require_mention: false }),
    env: { DISCORD_BOT_TOKEN: fake.token },
    async send(n, conversation) {
      const channel = channels[conversation]!;
      const before = fake.postedIn(channel.id).length;
      fake.userMessage({ channel, author: user, content: `bench ${n}` });
      await waitFor(() => fake.postedIn(channel.id).length > before, `discord reply ${n}`);
    },
    close: () => fake.close(),
  };
}

/** Slack over Socket Mode: a channel per conversation; tokens from the environment. */
async function slackPath(): Promise<BenchPath> {
  const fake = await startFakeSlack();
  const channelId = (conversation: number) => `C0BENCH${conversation}`;
  const postsIn = (channel: string) => fake.posts.filter((p) => p.channel === channel).length;
  return {
    name: 'slack',
    toml: adapterToml('slack', 'default', { api_url: fake.apiUrl, require_mention: false }),
    env: { SLACK_BOT_TOKEN: fake.botToken, SLACK_APP_TOKEN: fake.appToken },
    async send(n, conversation) {
      const channel = channelId(conversation);
      const before = postsIn(channel);
      fake.sendMessage({ channel, user: 'U0BENCH', text: `bench ${n}` });
      await waitFor(() => postsIn(channel) > before, `slack reply ${n}`);
    },
    close: () => fake.close(),
  };
}

async function main(): Promise<void> {
  const logger = createLogger('spacebot-bench', process.env.LOG_LEVEL ?? 'warn');
  installTemporalRuntime(logger);
  const stops: (() => Promise<void>)[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-bench-adapters-'));
  stops.push(async () => rmSync(dir, { recursive: true, force: true }));
  try {
    const llm = await startFakeLlm();
    stops.push(() => llm.close());
    // Instant model: the reply tool with a short text, then nothing after the tool result.
    const answer = (req: NeutralRequest): ScriptStep =>
      req.messages[req.messages.length - 1]?.role === 'tool' ? { text: '' } : { toolCalls: [{ name: 'reply', input: { text: 'ok' } }] };
    llm.script(answer);

    const cli = await findTemporalCli();
    if (!cli) throw new Error(missingCliMessage());
    const [port, uiPort] = (await freePorts(2)) as [number, number];
    const devServer = await startDevServer({ cliPath: cli.path, dataDir: path.join(dir, 'temporal'), port, uiPort, namespace: 'default', logger: createLogger('spacebot-bench', process.env.LOG_LEVEL ?? 'error') });
    stops.push(() => devServer.stop());

    const adapterPaths = [await telegramPath(), await discordPath(), await slackPath()];
    for (const p of adapterPaths) stops.push(() => p.close());

    const dataDir = path.join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const configFile = path.join(dir, 'spacebot.toml');
    writeFileSync(configFile, `[database]\npool_size = 1\n${adapterPaths.map((p) => p.toml).join('')}`);
    const adapterEnv = Object.assign({}, ...adapterPaths.map((p) => p.env)) as Record<string, string>;
    const config = loadConfig({
      file: configFile,
      cwd: dir,
      env: {
        SPACEBOT_DATA_DIR: dataDir,
        TEMPORAL_ADDRESS: devServer.address,
        SPACEBOT_TASK_QUEUE: 'spacebot-bench-adapters',
        SPACEBOT_HOST: '127.0.0.1',
        SPACEBOT_PORT: '0',
        SPACEBOT_API_TOKEN: TOKEN,
        ANTHROPIC_API_KEY: 'sk-ant-bench-key-123456',
        ANTHROPIC_BASE_URL: llm.url,
      },
    });
    // Adapter tokens come from the environment, as in production.
    Object.assign(process.env, adapterEnv);
    const app = await startSpacebot(config, logger, { worker: true, api: true, gateway: true, watchIngest: false });
    stops.push(() => app.stop());
    if (!app.apiUrl) throw new Error('the API did not start');

    const webhook = async (n: number, conversation: number) => {
      const res = await fetch(`${app.apiUrl}/v1/agents/main/conversations/bench-${conversation}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ text: `bench ${n}`, messageId: `bench-${conversation}-${n}`, wait: 60_000 }),
      });
      const body = (await res.json()) as { status?: string };
      if (res.status !== 200 || body.status !== 'completed') throw new Error(`webhook message ${n}: HTTP ${res.status} ${JSON.stringify(body)}`);
    };

    const timings = new Map<string, number[]>([['webhook', []], ...adapterPaths.map((p) => [p.name, []] as [string, number[]])]);
    const total = settings.warmup + settings.messages;
    const lastSent = new Map<number, number>();
    for (let n = 0; n < total; n++) {
      const conversation = n % settings.conversations;
      const gap = (lastSent.get(conversation) ?? -Infinity) + MIN_GAP_MS - performance.now();
      if (gap > 0) await new Promise((resolve) => setTimeout(resolve, gap));
      lastSent.set(conversation, performance.now());
      const runs: [string, () => Promise<void>][] = [['webhook', () => webhook(n, conversation)], ...adapterPaths.map((p) => [p.name, () => p.send(n, conversation)] as [string, () => Promise<void>])];
      for (const [name, run] of runs) {
        const started = performance.now();
        await run();
        if (n >= settings.warmup) timings.get(name)!.push(performance.now() - started);
      }
    }

    const webhookStats = stats(timings.get('webhook')!);
    const results = adapterPaths.map((p) => {
      const s = stats(timings.get(p.name)!);
      return { adapter: p.name, ...s, ratioToWebhook: round(s.medianMs / webhookStats.medianMs), withinTarget: s.medianMs / webhookStats.medianMs <= TARGET_RATIO };
    });
    // Every sample, in send order, so a slow tail can be traced to the messages that made it.
    const samplesMs = Object.fromEntries([...timings].map(([name, values]) => [name, values.map((v) => round(v))]));
    const report = { at: new Date().toISOString(), settings, targetRatio: TARGET_RATIO, webhook: webhookStats, adapters: results, samplesMs };
    out(`webhook: median ${webhookStats.medianMs} ms, p95 ${webhookStats.p95Ms} ms (${webhookStats.samples} samples)`);
    for (const r of results) {
      out(`${r.adapter}: median ${r.medianMs} ms, p95 ${r.p95Ms} ms; ratio to webhook ${r.ratioToWebhook} (target ≤ ${TARGET_RATIO}) ${r.withinTarget ? 'OK' : 'OVER TARGET'}`);
    }
    const resultsDir = path.join(HERE, 'results');
    mkdirSync(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `adapters-${report.at.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    out(`results: ${file}`);
    if (results.some((r) => !r.withinTarget)) process.exitCode = 1;
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => console.error(`cleanup failed: ${(err as Error).message}`));
  }
}

main().catch((err: unknown) => {
  console.error(`bench:adapters failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
