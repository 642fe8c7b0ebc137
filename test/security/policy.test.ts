import { existsSync } from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NeutralRequest, ScriptStep } from '../fake-llm/script.js';
import { startFakeTelegram, type FakeChat, type FakeTelegram, type FakeUser } from '../fake-platforms/telegram/server.js';
import { adapterToml, bindingsToml } from '../helpers/gateway.js';
import { createHarness, eventually, workflowExists, type Harness } from '../helpers/harness.js';
import { recordHistories } from '../helpers/histories.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

/**
 * Tool policy end to end, through the public path: a chat message makes the (fake) model spawn a
 * worker that calls a tool. Readonly workers are not offered shell or writes and are refused when
 * they call them anyway; deny lists likewise; a binding's autonomy applies to its chats; a platform
 * user outside `worker_users` cannot start a worker at all, nor send work to one a listed user started. Canary files live in the agents'
 * temporary workspaces: a refused call that ran anyway would leave one behind.
 */

const alice: FakeUser = { id: 42, is_bot: false, first_name: 'Alice' };
const mallory: FakeUser = { id: 66, is_bot: false, first_name: 'Mallory' };
const guardedGroup: FakeChat = { id: -6006, type: 'group', title: 'Guarded' };
const readonlyGroup: FakeChat = { id: -8008, type: 'group', title: 'Read only' };
const routeGroup: FakeChat = { id: -7007, type: 'group', title: 'Guarded helpers' };

let env: TestWorkflowEnvironment;
let tg: FakeTelegram;
let h: Harness;
beforeAll(async () => {
  env = await startTestTemporal();
  tg = await startFakeTelegram();
  h = await createHarness({
    env,
    toml: [
      '\n[[agents]]\nid = "main"\n',
      '\n[[agents]]\nid = "ro"\nautonomy = "readonly"\n',
      '\n[[agents]]\nid = "nosh"\ntools_deny = ["shell"]\n',
      '\n[[agents]]\nid = "guarded"\nworker_users = ["telegram:42"]\n',
      adapterToml('telegram', 'default', { api_root: tg.url, poll_timeout_seconds: 1, require_mention: false }),
      bindingsToml([
        { agent: 'guarded', platform: 'telegram', chat: String(guardedGroup.id) },
        { agent: 'guarded', platform: 'telegram', chat: String(routeGroup.id) },
        { agent: 'main', platform: 'telegram', chat: String(readonlyGroup.id), autonomy: 'readonly' },
      ]),
    ].join(''),
    gateway: { env: { TELEGRAM_BOT_TOKEN: tg.token }, retry: { initialMs: 100, maxMs: 1000 } },
  });
}, 120_000);
afterAll(async () => {
  await h?.close();
  await tg?.close();
  await env?.teardown();
});

const isWorker = (req: NeutralRequest) => req.tools.includes('set_status');
const toolResults = (req: NeutralRequest) => req.messages.flatMap((m) => m.toolResults ?? []);
/** The tools each worker was offered, by the canary name in its task. */
const offered = new Map<string, string[]>();

/**
 * "run <tool> <canary>": the channel spawns a worker to call <tool> so that it would create <canary>
 * in the workspace; the worker reports the call's result as its outcome and the channel says
 * "Done: <outcome>". A refused spawn_worker is passed on as "Refused: <its result>".
 */
beforeEach(() => {
  h.fake.reset();
  h.fake.script((req): ScriptStep => {
    if (isWorker(req)) {
      const [, tool, canary] = /\[Task\] Call (\S+) to create (\S+)/.exec(req.messages[0]?.text ?? '') ?? [];
      offered.set(canary!, req.tools);
      const results = toolResults(req);
      if (results.length) return { toolCalls: [{ name: 'set_status', input: { status: results[results.length - 1]!.text, done: true } }] };
      const input = tool === 'shell' ? { command: `touch ${canary}` } : { path: canary, content: 'canary' };
      return { toolCalls: [{ name: tool!, input }] };
    }
    const done = /\[Worker worker\/1 (?:completed|failed)\][\s\S]*?Outcome: (.*)/.exec(req.lastUserText);
    if (done) return { toolCalls: [{ name: 'reply', input: { text: `Done: ${done[1]}` } }] };
    const last = req.messages[req.messages.length - 1];
    const refused = toolResults(req).find((r) => r.text.startsWith('Not started'));
    if (last?.role === 'tool' || (last?.role === 'user' && last.text.startsWith('<status>'))) {
      return refused ? { toolCalls: [{ name: 'reply', input: { text: `Refused: ${refused.text}` } }] } : { toolCalls: [{ name: 'skip', input: {} }] };
    }
    const [, tool, canary] = /run (\S+) (\S+)/.exec(req.lastUserText) ?? [];
    if (!tool) return { toolCalls: [{ name: 'skip', input: {} }] };
    return { toolCalls: [{ name: 'spawn_worker', input: { task: `Call ${tool} to create ${canary}` } }] };
  });
});

const workspace = (agent: string) => h.config.agents.find((a) => a.id === agent)!.workspace;
const transcript = async (agent: string, c: string) =>
  (await h.request('GET', `/v1/agents/${agent}/conversations/${c}/messages`)).body.messages as { direction: string; text: string }[];
const doneOn = (agent: string, c: string) =>
  eventually(async () => (await transcript(agent, c)).find((m) => m.direction === 'outbound' && m.text.startsWith('Done: ')), 45_000, `the outcome in ${c}`);
const sentToMatching = (chat: FakeChat, pattern: RegExp) =>
  eventually(() => tg.sent.find((m) => m.chat_id === chat.id && pattern.test(m.text)), 45_000, `a message matching ${pattern} on Telegram`);

test.each(['shell', 'file_write'])('a readonly worker is not offered %s, and calling it anyway is refused without running', async (tool) => {
  const canary = `ro-${tool}.canary`;
  await h.request('POST', '/v1/agents/ro/conversations/ro-' + tool + '/messages', { text: `run ${tool} ${canary}`, wait: true });
  const done = await doneOn('ro', `ro-${tool}`);
  expect(done.text).toContain(`${tool} is not available: this agent is read-only`);
  expect(offered.get(canary)).toEqual(expect.arrayContaining(['file_read', 'file_list', 'set_status']));
  for (const write of ['shell', 'file_write', 'file_edit']) expect(offered.get(canary)).not.toContain(write);
  expect(existsSync(path.join(workspace('ro'), canary))).toBe(false);
}, 120_000);

test('a denied tool is neither offered nor run; the tools not denied still work', async () => {
  await h.request('POST', '/v1/agents/nosh/conversations/n1/messages', { text: 'run shell nosh.canary', wait: true });
  const refused = await doneOn('nosh', 'n1');
  expect(refused.text).toContain('shell is not available: the operator denied it for this agent (tools_deny)');
  expect(offered.get('nosh.canary')).not.toContain('shell');
  expect(offered.get('nosh.canary')).toContain('file_write');
  expect(existsSync(path.join(workspace('nosh'), 'nosh.canary'))).toBe(false);

  await h.request('POST', '/v1/agents/nosh/conversations/n2/messages', { text: 'run file_write allowed.txt', wait: true });
  await doneOn('nosh', 'n2');
  expect(existsSync(path.join(workspace('nosh'), 'allowed.txt'))).toBe(true);
}, 120_000);

test('a platform user outside worker_users cannot start a worker: spawn_worker tells the model so, and none starts', async () => {
  tg.inject({ chat: guardedGroup, from: mallory, text: 'run file_write mallory.canary' });
  const refused = await sentToMatching(guardedGroup, /^Refused: /);
  expect(refused.text).toContain('Not started: this user may not start workers');
  expect(await workflowExists(h, `channel:guarded:telegram:${guardedGroup.id}/worker/1`)).toBe(false);
  expect(existsSync(path.join(workspace('guarded'), 'mallory.canary'))).toBe(false);

  // Alice is listed: her request starts the worker.
  tg.inject({ chat: guardedGroup, from: alice, text: 'run file_write alice.txt' });
  await sentToMatching(guardedGroup, /^Done: /);
  expect(existsSync(path.join(workspace('guarded'), 'alice.txt'))).toBe(true);
}, 120_000);

test('a platform user outside worker_users cannot steer a running worker through route; a listed user can', async () => {
  // The channel: "helper please" starts an interactive worker; "route <canary>" sends it a follow-up
  // asking it to write <canary>; route's result is reported as "Refused: …" or "Routed".
  // The worker: ready at first; a follow-up makes it call file_write, whose result is its outcome.
  h.fake.script((req): ScriptStep => {
    const last = req.messages[req.messages.length - 1];
    const results = toolResults(req);
    if (isWorker(req)) {
      if (last?.role === 'tool') return { toolCalls: [{ name: 'set_status', input: { status: results[results.length - 1]!.text, done: true } }] };
      const [, canary] = last?.role === 'user' ? (/^\[Follow-up[^\]]*\] Call file_write to create (\S+)/.exec(last.text) ?? []) : [];
      if (canary) return { toolCalls: [{ name: 'file_write', input: { path: canary, content: 'canary' } }] };
      return { toolCalls: [{ name: 'set_status', input: { status: 'ready', done: true } }] };
    }
    const round = /\[Worker worker\/1 finished a round and waits for a follow-up\][\s\S]*?Outcome: (.*)/.exec(req.lastUserText);
    if (round) return { toolCalls: [{ name: 'reply', input: { text: `Round: ${round[1]}` } }] };
    if (last?.role === 'tool' || (last?.role === 'user' && last.text.startsWith('<status>'))) {
      const result = results[results.length - 1];
      return result?.isError ? { toolCalls: [{ name: 'reply', input: { text: `Refused: ${result.text}` } }] } : { toolCalls: [{ name: 'skip', input: {} }] };
    }
    if (req.lastUserText.endsWith('helper please')) return { toolCalls: [{ name: 'spawn_worker', input: { task: 'Be a helper', interactive: true } }] };
    const [, canary] = /route (\S+)/.exec(req.lastUserText) ?? [];
    if (canary) return { toolCalls: [{ name: 'route', input: { to: 'worker/1', message: `Call file_write to create ${canary}` } }] };
    return { toolCalls: [{ name: 'skip', input: {} }] };
  });
  tg.inject({ chat: routeGroup, from: alice, text: 'helper please' });
  await sentToMatching(routeGroup, /^Round: ready$/);

  tg.inject({ chat: routeGroup, from: mallory, text: 'route mallory-route.canary' });
  const refused = await sentToMatching(routeGroup, /^Refused: /);
  expect(refused.text).toContain('Not sent: this user may not start workers');
  const worker = `channel:guarded:telegram:${routeGroup.id}/worker/1`;
  expect((await h.env.client.workflow.getHandle(worker).describe()).status.name).toBe('RUNNING');

  // Alice is listed: her follow-up reaches the worker, which writes her file.
  tg.inject({ chat: routeGroup, from: alice, text: 'route alice-route.txt' });
  await sentToMatching(routeGroup, /^Round: (?!ready)/);
  expect(existsSync(path.join(workspace('guarded'), 'alice-route.txt'))).toBe(true);
  expect(existsSync(path.join(workspace('guarded'), 'mallory-route.canary'))).toBe(false);
  await recordHistories(h.env, `channel:guarded:telegram:${routeGroup.id}`, 'channel-route-permission');
  await h.env.client.workflow.getHandle(worker).cancel();
}, 180_000);

test('a binding that sets autonomy = "readonly" makes the workers of its chats read-only', async () => {
  tg.inject({ chat: readonlyGroup, from: alice, text: 'run shell bound.canary' });
  const done = await sentToMatching(readonlyGroup, /^Done: /);
  expect(done.text).toContain('shell is not available: this agent is read-only');
  expect(offered.get('bound.canary')).not.toContain('shell');
  expect(existsSync(path.join(workspace('main'), 'bound.canary'))).toBe(false);
}, 120_000);
