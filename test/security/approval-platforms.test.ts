import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NeutralRequest, ScriptStep } from '../fake-llm/script.js';
import { ChannelTypes, snowflake, startFakeDiscord, type FakeChannel, type FakeDiscord, type FakeUser } from '../fake-platforms/discord/server.js';
import { startFakeSlack, type FakeSlack } from '../fake-platforms/slack/server.js';
import { adapterToml, bindingsToml } from '../helpers/gateway.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { recordHistories } from '../helpers/histories.js';
import { freePorts } from '../helpers/ports.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

/**
 * The open ends of approvals and tool policy, through the public path: approval by reaction on
 * Discord and Slack (each against its wire fake: gateway events in, messages out), approval notices
 * that cannot ping anyone, a cancelled worker's pending approval expiring at once, and branch, route
 * and cancel refused in the channel workflow when the deny list holds them and the model calls them
 * anyway.
 */

interface ApiApproval {
  id: string;
  status: string;
  tool: string;
  summary: string;
  worker: string;
  noticeMessageId: string | null;
  decidedBy: string | null;
}

const guildId = snowflake();
const ops: FakeChannel = { id: snowflake(), name: 'ops', type: ChannelTypes.GuildText, guildId };
const alice: FakeUser = { id: snowflake(), username: 'alice' };
const mallory: FakeUser = { id: snowflake(), username: 'mallory' };
const SLACK_OPS = 'COPS0001';
const SLACK_ALICE = 'UALICE01';
const SLACK_MALLORY = 'UMALLORY';
/** The shell command a worker asks approval for: every kind of ping, as the model might write it. */
const PINGS = `echo @everyone @here <@${mallory.id}> <@&${guildId}> <!channel> <!here> @alice`;

let env: TestWorkflowEnvironment;
let discord: FakeDiscord;
let slack: FakeSlack;
let h: Harness;
beforeAll(async () => {
  env = await startTestTemporal();
  const [port] = await freePorts(1);
  discord = await startFakeDiscord({ port, guilds: [{ id: guildId, name: 'Guild', channels: [ops] }] });
  slack = await startFakeSlack();
  h = await createHarness({
    env,
    toml: [
      `\n[[agents]]\nid = "sup"\nautonomy = "supervised"\napprovers = ["discord:${alice.id}", "slack:${SLACK_ALICE}"]\n`,
      '\n[[agents]]\nid = "nobranch"\ntools_deny = ["branch", "route", "cancel"]\n',
      adapterToml('discord', 'default', { api_url: discord.apiUrl, require_mention: false }),
      adapterToml('slack', 'default', { bot_token: slack.botToken, app_token: slack.appToken, api_url: slack.apiUrl, require_mention: false }),
      bindingsToml([
        { agent: 'sup', platform: 'discord', channel: ops.id },
        { agent: 'sup', platform: 'slack', channel: SLACK_OPS },
      ]),
    ].join(''),
    gateway: { env: { DISCORD_BOT_TOKEN: discord.token }, retry: { initialMs: 100, maxMs: 1000 } },
  });
  await eventually(async () => (['discord', 'slack'].every((k) => h.gateway?.statuses().some((s) => s.kind === k && s.state === 'connected')) ? true : undefined), 30_000, 'adapters connected');
}, 120_000);
afterAll(async () => {
  await h?.close();
  await discord?.close();
  await slack?.close();
  await env?.teardown();
});

const isWorker = (req: NeutralRequest) => req.tools.includes('set_status');
const toolResults = (req: NeutralRequest) => req.messages.flatMap((m) => m.toolResults ?? []);
const lastIsToolResult = (req: NeutralRequest) => {
  const [before, last] = req.messages.slice(-2);
  return last?.role === 'tool' || (last?.role === 'user' && last.text.startsWith('<status>') && before?.role === 'tool');
};

/**
 * "please write <file>" spawns a worker that calls file_write; "please run <command>" one that calls
 * shell; the worker reports its call's result as the outcome, which the channel passes on as "Done:".
 * "please branch" / "please route" / "please cancel" make the channel call that tool and answer with
 * "Result: <what the tool returned>".
 */
beforeEach(() => {
  h.fake.reset();
  h.fake.script((req): ScriptStep => {
    if (isWorker(req)) {
      const task = req.messages[0]?.text ?? '';
      const results = toolResults(req);
      if (results.length) return { toolCalls: [{ name: 'set_status', input: { status: results[results.length - 1]!.text, done: true } }] };
      const command = /\[Task\] Run: (.*)/.exec(task)?.[1];
      if (command) return { toolCalls: [{ name: 'shell', input: { command: command === 'pings' ? PINGS : command } }] };
      const file = /\[Task\] Write ok into (\S+)/.exec(task)?.[1] ?? 'unknown.txt';
      return { toolCalls: [{ name: 'file_write', input: { path: file, content: 'ok' } }] };
    }
    const done = /\[Worker worker\/\d+ (?:completed|failed)\][\s\S]*?Outcome: (.*)/.exec(req.lastUserText);
    if (done) return { toolCalls: [{ name: 'reply', input: { text: `Done: ${done[1]}` } }] };
    if (lastIsToolResult(req)) {
      const results = toolResults(req);
      const last = results[results.length - 1];
      return { toolCalls: [{ name: 'reply', input: { text: `Result: ${last?.text ?? ''}` } }] };
    }
    const processTool = /please (branch|route|cancel)/.exec(req.lastUserText)?.[1];
    if (processTool === 'branch') return { toolCalls: [{ name: 'branch', input: { question: 'What did we decide yesterday?' } }] };
    if (processTool === 'route') return { toolCalls: [{ name: 'route', input: { to: 'worker/1', message: 'hurry' } }] };
    if (processTool === 'cancel') return { toolCalls: [{ name: 'cancel', input: { id: 'worker/1' } }] };
    const command = /please run (.*)/.exec(req.lastUserText)?.[1];
    if (command) return { toolCalls: [{ name: 'spawn_worker', input: { task: `Run: ${command}` } }] };
    const file = /please write (\S+)/.exec(req.lastUserText)?.[1];
    if (!file) return { toolCalls: [{ name: 'skip', input: {} }] };
    return { toolCalls: [{ name: 'spawn_worker', input: { task: `Write ok into ${file}` } }] };
  });
});

const workspace = (agent: string) => h.config.agents.find((a) => a.id === agent)!.workspace;

async function approvals(agent: string, status?: string): Promise<ApiApproval[]> {
  const res = await h.request('GET', `/v1/agents/${agent}/approvals${status ? `?status=${status}` : ''}`);
  expect(res.status).toBe(200);
  return res.body.approvals as ApiApproval[];
}
const pendingFor = (agent: string, text: string) =>
  eventually(async () => (await approvals(agent, 'pending')).find((a) => a.summary.includes(text)), 45_000, `a pending approval for ${text}`);
const byId = async (agent: string, id: string) => (await approvals(agent)).find((a) => a.id === id);
/**
 * A reaction decides an approval only once the approval knows its notice: the notice is posted
 * first, and its message id recorded after the platform answered. A platform fake sees the post
 * before that (on a loaded machine, seconds before), and a reaction sent in between finds no
 * approval and is ignored, so a test reacts only after the API shows the notice recorded.
 */
const noticeRecorded = (agent: string, id: string) =>
  eventually(async () => ((await byId(agent, id))?.noticeMessageId ? true : undefined), 45_000, `the notice of ${id} recorded`);

describe('Discord', () => {
  const noticeOf = async (id: string) => {
    const notice = await eventually(() => discord.postedIn(ops.id).find((m) => m.content.includes(`[${id}]`)), 45_000, `the notice of ${id} on Discord`);
    await noticeRecorded('sup', id);
    return notice;
  };

  test("an approver's ✅ on the notice approves; a non-approver's ✅ is ignored", async () => {
    discord.userMessage({ channel: ops, author: alice, content: 'please write discord.txt' });
    const pending = await pendingFor('sup', 'discord.txt');
    const notice = await noticeOf(pending.id);

    // Mallory's reaction first: it must change nothing, and the approval stays pending.
    expect(discord.userReaction({ channel: ops, user: mallory, messageId: notice.id, emoji: '✅' })).toBe(true);
    // Give the gateway the time to read it (a reaction leaves no other trace when ignored).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await byId('sup', pending.id)).toMatchObject({ status: 'pending' });
    expect(existsSync(path.join(workspace('sup'), 'discord.txt'))).toBe(false);

    expect(discord.userReaction({ channel: ops, user: alice, messageId: notice.id, emoji: '✅' })).toBe(true);
    await eventually(() => discord.postedIn(ops.id).find((m) => m.content.startsWith('Done: ')), 45_000, 'the outcome on Discord');
    expect(readFileSync(path.join(workspace('sup'), 'discord.txt'), 'utf8')).toBe('ok');
    expect(await byId('sup', pending.id)).toMatchObject({ status: 'approved', decidedBy: `discord:${alice.id}` });
  }, 120_000);

  test('the notice shows the command but cannot ping: @everyone, @here, user and role mentions are defused; ❌ denies', async () => {
    discord.userMessage({ channel: ops, author: alice, content: 'please run pings' });
    const pending = await pendingFor('sup', 'echo');
    expect(pending.summary).toBe(PINGS);
    const notice = await noticeOf(pending.id);
    for (const ping of ['@everyone', '@here', `<@${mallory.id}>`, `<@&${guildId}>`, '<!channel>', '<!here>', '@alice']) expect(notice.content).not.toContain(ping);
    // Still readable: only zero-width spaces were added.
    expect(notice.content.replace(/\u200b/g, '')).toContain(PINGS);

    expect(discord.userReaction({ channel: ops, user: alice, messageId: notice.id, emoji: '❌' })).toBe(true);
    const done = await eventually(() => discord.postedIn(ops.id).find((m) => m.content.startsWith('Done: ') && m.content.includes('shell')), 45_000, 'the outcome on Discord');
    expect(done.content).toContain('Denied by the operator: shell was not run');
    expect(await byId('sup', pending.id)).toMatchObject({ status: 'denied', decidedBy: `discord:${alice.id}` });
  }, 120_000);
});

describe('Slack', () => {
  test("an approver's :white_check_mark: on the notice approves; a non-approver's is ignored; the notice cannot ping", async () => {
    slack.sendMessage({ channel: SLACK_OPS, user: SLACK_ALICE, text: 'please write slack@channel.txt' });
    const pending = await pendingFor('sup', 'slack@channel.txt');
    const notice = await eventually(() => slack.posts.find((p) => p.channel === SLACK_OPS && p.text.includes(`[${pending.id}]`)), 45_000, 'the notice on Slack');
    await noticeRecorded('sup', pending.id);
    expect(notice.text).not.toContain('@channel');

    slack.sendReaction({ channel: SLACK_OPS, ts: notice.ts, user: SLACK_MALLORY, name: 'white_check_mark' });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await byId('sup', pending.id)).toMatchObject({ status: 'pending' });

    slack.sendReaction({ channel: SLACK_OPS, ts: notice.ts, user: SLACK_ALICE, name: 'white_check_mark' });
    await eventually(() => slack.posts.find((p) => p.channel === SLACK_OPS && p.text.startsWith('Done: ')), 45_000, 'the outcome on Slack');
    expect(readFileSync(path.join(workspace('sup'), 'slack@channel.txt'), 'utf8')).toBe('ok');
    expect(await byId('sup', pending.id)).toMatchObject({ status: 'approved', decidedBy: `slack:${SLACK_ALICE}` });
  }, 120_000);
});

test('a worker cancelled while its approval waits leaves it expired at once, not pending until its deadline', async () => {
  const conv = '/v1/agents/sup/conversations/c1';
  await h.request('POST', `${conv}/messages`, { text: 'please write cancelled.txt', wait: true });
  const pending = await pendingFor('sup', 'cancelled.txt');

  const cancelled = await h.request('POST', `${conv}/processes/worker/1/cancel`, {});
  expect(cancelled.status).toBe(200);
  const row = await eventually(async () => {
    const r = await byId('sup', pending.id);
    return r?.status !== 'pending' ? r : undefined;
  }, 30_000, 'the approval decided');
  expect(row).toMatchObject({ status: 'expired', decidedBy: 'worker cancelled' });
  // An approval now comes too late, and nothing was written.
  expect((await h.request('POST', `/v1/agents/sup/approvals/${pending.id}/approve`, {})).status).toBe(409);
  expect(existsSync(path.join(workspace('sup'), 'cancelled.txt'))).toBe(false);
  await recordHistories(h.env, pending.worker, 'approval-worker-cancelled');
}, 120_000);

test.each(['branch', 'route', 'cancel'])('%s, denied by tools_deny, is refused in the channel workflow when the model calls it anyway', async (tool) => {
  const conv = `/v1/agents/nobranch/conversations/deny-${tool}`;
  const posted = await h.request('POST', `${conv}/messages`, { text: `please ${tool}`, wait: true });
  expect(posted.status).toBe(200);
  const reply = await eventually(
    async () => ((await h.request('GET', `${conv}/messages`)).body.messages as { direction: string; text: string }[]).find((m) => m.direction === 'outbound' && m.text.startsWith('Result: ')),
    30_000,
    'the reply',
  );
  expect(reply.text).toBe(`Result: ${tool} is not available: the operator denied it for this agent (tools_deny).`);
  // Nothing was started: no branch ever asked the model.
  expect(h.fake.requests.some((r) => r.neutral?.tools.includes('channel_recall'))).toBe(false);
  if (tool === 'branch') await recordHistories(h.env, 'channel:nobranch:webhook:deny-branch', 'channel-process-tool-denied');
}, 60_000);
