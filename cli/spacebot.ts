/**
 * `spacebot`: the HTTP API for people at a terminal.
 *
 *   spacebot agents list
 *   spacebot chat <agent> [--conversation <id>]
 *   spacebot heartbeats list <agent>
 *   spacebot heartbeats create <agent> <id> --prompt "…" (--every 1h | --cron "0 9 * * 1-5")
 *            [--timezone Europe/Berlin] [--active-hours 09:00-17:00] [--to <conversation> | --webhook <url>]
 *   spacebot heartbeats pause|unpause|trigger|delete <agent> <id>
 *   spacebot runs list [--agent a] [--conversation c] [--type t] [--status s] [--limit n]
 *   spacebot runs show <workflowId> [--run-id r]
 *   spacebot replay <workflowId> [--run-id r] | --all [--since 24h]
 *   spacebot secrets list | set <NAME> (value on stdin) | delete <NAME>
 *   spacebot approvals list <agent> [--status pending]
 *   spacebot approvals show <agent> <id>
 *   spacebot approvals approve|deny <agent> <id>
 *   spacebot keys payload-key   (local: the tools service's SPACEBOT_PAYLOAD_KEY, from the master key)
 *
 * Global: --url (SPACEBOT_URL, default http://127.0.0.1:3000), --token (SPACEBOT_API_TOKEN, else
 * data/api-token). Exit status: 0 done, 1 the server refused or failed, 2 bad usage.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ApiClient, CliError } from './api-client.js';
import { table } from './table.js';
import { secrets } from './secrets.js';
import { approvals } from './approvals.js';
import { payloadKeyLines } from './keys.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

const USAGE = `usage:
  spacebot agents list
  spacebot chat <agent> [--conversation <id>]
  spacebot heartbeats list <agent>
  spacebot heartbeats create <agent> <id> --prompt "…" (--every 1h | --cron "0 9 * * 1-5")
           [--timezone Europe/Berlin] [--active-hours 09:00-17:00] [--to <conversation> | --webhook <url>]
  spacebot heartbeats pause|unpause|trigger|delete <agent> <id>
  spacebot runs list [--agent a] [--conversation c] [--type t] [--status s] [--limit n]
  spacebot runs show <workflowId> [--run-id r]
  spacebot replay <workflowId> [--run-id r] | --all [--since 24h]
  spacebot secrets list | set <NAME> (value on stdin, never an argument) | delete <NAME>
  spacebot approvals list <agent> [--status pending]
  spacebot approvals show <agent> <id>
  spacebot approvals approve|deny <agent> <id>
  spacebot keys payload-key   (prints SPACEBOT_PAYLOAD_KEY=… for the tools service; reads the master key locally)
options: --url <api url> --token <api token>`;

class UsageError extends Error {}

interface Reply {
  text: string;
  kind: string;
}

type Options = Record<string, string | boolean | undefined>;

export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const [command, sub] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    out.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  if (command === 'replay') return replay(argv.slice(1));
  // Local, no API: the master key never crosses the network for this.
  if (command === 'keys') {
    if (sub !== 'payload-key' || argv.length > 2) throw new UsageError('keys: the only command is `spacebot keys payload-key`');
    for (const line of payloadKeyLines()) out.write(`${line}\n`);
    return 0;
  }
  const { values, positionals } = parseArgs({
    args: argv.slice(1),
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      conversation: { type: 'string' },
      agent: { type: 'string' },
      type: { type: 'string' },
      status: { type: 'string' },
      limit: { type: 'string' },
      'run-id': { type: 'string' },
      prompt: { type: 'string' },
      every: { type: 'string' },
      cron: { type: 'string' },
      timezone: { type: 'string' },
      'active-hours': { type: 'string' },
      to: { type: 'string' },
      webhook: { type: 'string' },
    },
  });
  const api = new ApiClient({ url: values.url, token: values.token });
  const print = (text: string) => out.write(`${text}\n`);
  switch (`${command} ${command === 'chat' ? '' : (sub ?? '')}`.trim()) {
    case 'agents list': {
      const { body } = await api.request<{ agents: { id: string; name: string; model: string | null }[] }>('GET', '/v1/agents');
      print(table(body.agents, ['id', 'name', 'model']));
      return 0;
    }
    case 'chat':
      return chat(api, positionals[0], values, out);
    case 'runs list': {
      const query = new URLSearchParams();
      for (const key of ['agent', 'conversation', 'type', 'status', 'limit'] as const) {
        const value = values[key];
        if (typeof value === 'string') query.set(key, value);
      }
      const { body } = await api.request<{ runs: Record<string, unknown>[] }>('GET', `/v1/runs${query.size ? `?${query}` : ''}`);
      print(table(body.runs, ['workflowId', 'status', 'type', 'agent', 'conversation', 'startTime', 'temporalUiUrl']));
      return 0;
    }
    case 'runs show': {
      const workflowId = positionals[1];
      if (!workflowId) throw new UsageError('runs show needs a workflow id');
      const runId = values['run-id'];
      const route = `/v1/runs/${encodeURIComponent(workflowId)}${typeof runId === 'string' ? `?runId=${encodeURIComponent(runId)}` : ''}`;
      const { body } = await api.request<{ status: string; temporalUiUrl?: string; steps: Record<string, unknown>[] }>('GET', route);
      print(`${workflowId}: ${body.status}${body.temporalUiUrl ? `  ${body.temporalUiUrl}` : ''}`);
      for (const step of body.steps) print(describeStep(step));
      return 0;
    }
    case 'heartbeats list':
    case 'heartbeats create':
    case 'heartbeats pause':
    case 'heartbeats unpause':
    case 'heartbeats trigger':
    case 'heartbeats delete':
      return heartbeats(api, sub as string, positionals.slice(1), values, print);
    case 'secrets list':
    case 'secrets set':
    case 'secrets delete': {
      const problem = await secrets(api, sub as string, positionals.slice(1), print);
      if (problem) throw new UsageError(problem);
      return 0;
    }
    case 'approvals list':
    case 'approvals show':
    case 'approvals approve':
    case 'approvals deny': {
      const problem = await approvals(api, sub as string, positionals.slice(1), typeof values.status === 'string' ? values.status : undefined, print);
      if (problem) throw new UsageError(problem);
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${argv.slice(0, 2).join(' ')}"`);
  }
}

/** Heartbeats (recurring prompts run as Temporal Schedules) of one agent. */
async function heartbeats(api: ApiClient, action: string, args: string[], values: Options, print: (text: string) => void): Promise<number> {
  const [agent, id] = args;
  if (!agent) throw new UsageError(`heartbeats ${action} needs an agent id`);
  const base = `/v1/agents/${encodeURIComponent(agent)}/heartbeats`;
  if (action === 'list') {
    const { body } = await api.request<{ heartbeats: Record<string, unknown>[] }>('GET', base);
    const rows = body.heartbeats.map((hb) => ({ ...hb, schedule: hb.cron ?? (hb.intervalSeconds ? `every ${String(hb.intervalSeconds)}s` : undefined) }));
    print(table(rows, ['id', 'schedule', 'paused', 'timezone', 'note', 'prompt']));
    return 0;
  }
  if (!id) throw new UsageError(`heartbeats ${action} needs an agent id and a heartbeat id`);
  const route = `${base}/${encodeURIComponent(id)}`;
  if (action === 'create') {
    const { body } = await api.request<Record<string, unknown>>('POST', base, heartbeatBody(id, values));
    print(`created heartbeat ${String(body.id)} (${String(body.scheduleId)})`);
  } else if (action === 'delete') {
    await api.request('DELETE', route);
    print(`deleted heartbeat ${id}`);
  } else {
    await api.request('POST', `${route}/${action}`);
    print(`${action === 'trigger' ? 'triggered' : `${action}d`} heartbeat ${id}`);
  }
  return 0;
}

/** The create request from the command line's flags; the server validates and names bad fields. */
function heartbeatBody(id: string, values: Options): Record<string, unknown> {
  const prompt = values.prompt;
  if (typeof prompt !== 'string') throw new UsageError('heartbeats create needs --prompt');
  const body: Record<string, unknown> = { id, prompt };
  if (typeof values.every === 'string') body.intervalSeconds = parseDuration(values.every);
  if (typeof values.cron === 'string') body.cron = values.cron;
  if (typeof values.timezone === 'string') body.timezone = values.timezone;
  if (typeof values['active-hours'] === 'string') {
    const [start, end] = values['active-hours'].split('-');
    body.activeHours = { start, end };
  }
  if (typeof values.to === 'string') body.target = { kind: 'channel', conversation: values.to };
  if (typeof values.webhook === 'string') body.target = { kind: 'webhook', url: values.webhook };
  return body;
}

/** "90s", "15m", "1h", "1d" → seconds. */
function parseDuration(text: string): number {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new UsageError(`--every: expected a duration like 15m, 1h or 1d, got "${text}"`);
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[(match[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** One timeline step on one line: time, kind, and what matters for that kind. */
function describeStep(step: Record<string, unknown>): string {
  const time = typeof step.time === 'string' ? step.time.slice(11, 23) : '';
  const parts = [time, String(step.kind).padEnd(16)];
  for (const key of ['turn', 'summary', 'name', 'model', 'outcome', 'durationMs', 'text']) {
    const value = step[key];
    if (value !== undefined && value !== null && value !== '') parts.push(`${key}=${typeof value === 'string' ? JSON.stringify(truncate(value)) : String(value)}`);
  }
  const error = step.error as { message?: string } | undefined;
  if (error?.message) parts.push(`error=${JSON.stringify(truncate(error.message))}`);
  return parts.join(' ');
}

function truncate(text: string, max = 80): string {
  const line = text.replace(/\s+/g, ' ');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * An interactive conversation: each line is sent and the turn's replies printed. Works with piped
 * input too, one message per line.
 */
async function chat(api: ApiClient, agent: string | undefined, values: Options, out: NodeJS.WritableStream): Promise<number> {
  if (!agent) throw new UsageError('chat needs an agent id (see: spacebot agents list)');
  const conversation = typeof values.conversation === 'string' ? values.conversation : `cli-${os.userInfo().username}`;
  const route = `/v1/agents/${encodeURIComponent(agent)}/conversations/${encodeURIComponent(conversation)}/messages`;
  const interactive = Boolean(process.stdin.isTTY);
  if (interactive) out.write(`chatting with ${agent} in conversation ${conversation}; Ctrl-D to leave\n`);
  const lines = createInterface({ input: process.stdin, terminal: interactive, prompt: 'you> ' });
  if (interactive) lines.prompt();
  for await (const line of lines) {
    const text = line.trim();
    if (text) {
      const { status, body } = await api.request<{ replies?: Reply[]; messageId: string }>('POST', route, {
        text,
        sender: { id: os.userInfo().username },
        wait: 120_000,
      });
      if (status === 202) out.write(`(${agent} is still working on it; the answer will be in the transcript)\n`);
      for (const reply of body.replies ?? []) out.write(`${agent}${reply.kind === 'error' ? ' (error)' : ''}> ${reply.text}\n`);
    }
    if (interactive) lines.prompt();
  }
  return 0;
}

/** Delegates to scripts/replay.ts, which bundles the workflows and talks to Temporal directly. */
function replay(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/replay.ts'), ...args], { stdio: 'inherit', cwd: process.cwd() });
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

export async function run(argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      console.error(`spacebot: ${(err as Error).message}\n${USAGE}`);
      process.exitCode = 2;
    } else if (err instanceof CliError) {
      console.error(`spacebot: ${err.message}`);
      process.exitCode = 1;
    } else {
      throw err;
    }
  }
}
