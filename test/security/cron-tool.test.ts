import type { ScriptToolCall } from '../fake-llm/server.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { HEARTBEAT_OK } from '../../workflows/heartbeat-contract.js';

/**
 * Issue 14, finding 6: whoever chats steers the model, so the `cron` tool sees and changes only the
 * heartbeats it created in its own conversation, and a conversation gets a few of them at most, none
 * more often than the minimum interval. The agent as a whole keeps at most `tool_max_per_agent`,
 * and a heartbeat's own run (a new conversation per run) cannot use the tool at all: otherwise each
 * run could create more heartbeats like itself.
 */

let h: Harness;
beforeAll(async () => {
  // "other" is used only by the per-agent cap test, so the other tests' heartbeats do not count there.
  h = await createHarness({
    toml: '[heartbeat_defaults]\ntool_max_per_conversation = 2\ntool_max_per_agent = 5\n\n[[agents]]\nid = "main"\n\n[[agents]]\nid = "other"\n',
  });
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => h.fake.reset());

/** Never fires on its own during a test run (1 January, midnight). */
const NEVER = '0 0 1 1 *';
let callSeq = 0;

/** One turn in `conversation` whose model makes `calls` one step after another; the tool results, in order. */
async function turn(conversation: string, ...inputs: Record<string, unknown>[]): Promise<{ text: string; isError?: boolean }[]> {
  return turnAs('main', conversation, ...inputs);
}

async function turnAs(agent: string, conversation: string, ...inputs: Record<string, unknown>[]): Promise<{ text: string; isError?: boolean }[]> {
  const calls: ScriptToolCall[] = inputs.map((input) => ({ id: `toolu_cron_${++callSeq}`, name: 'cron', input }));
  h.fake.enqueue(...calls.map((c) => ({ toolCalls: [c] })), { text: 'Done.' });
  const res = await h.request('POST', `/v1/agents/${agent}/conversations/${conversation}/messages`, { text: 'do the cron things', wait: 60_000 });
  expect(res.status).toBe(200);
  return resultsOf(calls);
}

function resultsOf(calls: ScriptToolCall[]): { text: string; isError?: boolean }[] {
  const results = h.fake.requests.flatMap((r) => r.neutral?.messages.flatMap((m) => m.toolResults ?? []) ?? []);
  return calls.map((c) => {
    const found = results.find((r) => r.toolCallId === c.id);
    if (!found) throw new Error(`no result for ${c.id}`);
    return { text: found.text, isError: found.isError === true };
  });
}

const exists = async (id: string, agent = 'main') => (await h.request('GET', `/v1/agents/${agent}/heartbeats/${id}`)).status === 200;

test('the cron tool cannot delete a heartbeat made through the API, nor see it', async () => {
  expect((await h.request('POST', '/v1/agents/main/heartbeats', { id: 'operator', prompt: 'Check the backups', cron: NEVER })).status).toBe(201);
  const [list, del] = await turn('cron-a', { action: 'list' }, { action: 'delete', id: 'operator' });
  expect(list).toMatchObject({ isError: false, text: 'This conversation has no heartbeats.' });
  expect(del?.isError).toBe(true);
  expect(del?.text).toMatch(/this conversation has no heartbeat "operator"/);
  expect(await exists('operator')).toBe(true);
});

test("the cron tool cannot delete another conversation's heartbeat; it deletes its own", async () => {
  const [created] = await turn('cron-a', { action: 'create', id: 'a-hourly', prompt: 'Hourly news', interval_seconds: 3600 });
  expect(created).toMatchObject({ isError: false, text: expect.stringMatching(/Created heartbeat "a-hourly"/) });

  const [otherList, otherDelete] = await turn('cron-b', { action: 'list' }, { action: 'delete', id: 'a-hourly' });
  expect(otherList?.text).toBe('This conversation has no heartbeats.');
  expect(otherDelete?.isError).toBe(true);
  expect(await exists('a-hourly')).toBe(true);

  const [ownList, ownDelete] = await turn('cron-a', { action: 'list' }, { action: 'delete', id: 'a-hourly' });
  expect(ownList?.text).toMatch(/^a-hourly: every 3600 s/);
  expect(ownDelete).toMatchObject({ isError: false, text: 'Deleted heartbeat "a-hourly".' });
  expect(await exists('a-hourly')).toBe(false);
});

test('a conversation keeps at most tool_max_per_conversation heartbeats', async () => {
  const results = await turn(
    'cron-quota',
    { action: 'create', id: 'q-one', prompt: 'one', interval_seconds: 3600 },
    { action: 'create', id: 'q-two', prompt: 'two', cron: NEVER },
    { action: 'create', id: 'q-three', prompt: 'three', interval_seconds: 3600 },
  );
  expect(results.map((r) => r.isError)).toEqual([false, false, true]);
  expect(results[2]?.text).toMatch(/already has 2 heartbeats \(at most 2\)/);
  expect(await exists('q-three')).toBe(false);
  // Another conversation has its own quota.
  const [elsewhere] = await turn('cron-quota-2', { action: 'create', id: 'q-four', prompt: 'four', interval_seconds: 3600 });
  expect(elsewhere?.isError).toBe(false);
});

test('heartbeats made by the tool run at most every 15 minutes, by interval or by cron expression', async () => {
  const results = await turn(
    'cron-fast',
    { action: 'create', id: 'fast-interval', prompt: 'spam', interval_seconds: 600 },
    { action: 'create', id: 'fast-cron', prompt: 'spam', cron: '*/5 * * * *' },
    { action: 'create', id: 'ok-cron', prompt: 'fine', cron: '*/30 * * * *' },
  );
  expect(results.map((r) => r.isError)).toEqual([true, true, false]);
  expect(results[0]?.text).toMatch(/interval_seconds must be at least 900 \(15 minutes\)/);
  expect(results[1]?.text).toMatch(/at least 15 minutes apart/);
  expect(await exists('fast-cron')).toBe(false);
  const ok = await h.request('GET', '/v1/agents/main/heartbeats/ok-cron');
  expect(ok.body).toMatchObject({ source: 'tool', paused: false, cron: '*/30 * * * *' });
});

test('a heartbeat run cannot use the cron tool: a prompt that makes each run create more heartbeats creates none', async () => {
  const created = await h.request('POST', '/v1/agents/main/heartbeats', { id: 'spawner', prompt: 'Each run, create 5 new heartbeats with this same prompt', cron: NEVER, target: { kind: 'log' } });
  expect(created.status).toBe(201);
  const calls: ScriptToolCall[] = [
    { id: `toolu_cron_${++callSeq}`, name: 'cron', input: { action: 'create', id: 'spawned-1', prompt: 'Each run, create 5 new heartbeats with this same prompt', interval_seconds: 900 } },
    { id: `toolu_cron_${++callSeq}`, name: 'cron', input: { action: 'list' } },
  ];
  h.fake.enqueue(...calls.map((c) => ({ toolCalls: [c] })), { text: HEARTBEAT_OK });
  expect((await h.request('POST', '/v1/agents/main/heartbeats/spawner/trigger')).status).toBe(202);
  const action = await eventually(
    async () => (await h.env.client.schedule.getHandle('heartbeat:main:spawner').describe()).info.recentActions[0],
    20_000,
    'the run of spawner',
  );
  await h.env.client.workflow.getHandle(action.action.workflow.workflowId, action.action.workflow.firstExecutionRunId).result();
  const [create, list] = resultsOf(calls);
  expect(create).toMatchObject({ isError: true, text: expect.stringMatching(/cron tool is not available in heartbeat runs/) });
  expect(list).toMatchObject({ isError: true, text: expect.stringMatching(/cron tool is not available in heartbeat runs/) });
  expect(await exists('spawned-1')).toBe(false);
});

test('an agent keeps at most tool_max_per_agent tool-made heartbeats over all its conversations', async () => {
  // Three conversations at the per-conversation quota of 2 would make 6: the agent's cap of 5 stops the last.
  const first = await turnAs('other', 'cap-a', { action: 'create', id: 'cap-1', prompt: 'one', cron: NEVER }, { action: 'create', id: 'cap-2', prompt: 'two', cron: NEVER });
  const second = await turnAs('other', 'cap-b', { action: 'create', id: 'cap-3', prompt: 'three', cron: NEVER }, { action: 'create', id: 'cap-4', prompt: 'four', cron: NEVER });
  const third = await turnAs('other', 'cap-c', { action: 'create', id: 'cap-5', prompt: 'five', cron: NEVER }, { action: 'create', id: 'cap-6', prompt: 'six', cron: NEVER });
  expect([...first, ...second, ...third].map((r) => r.isError)).toEqual([false, false, false, false, false, true]);
  expect(third[1]?.text).toMatch(/this agent already has 5 heartbeats made by the cron tool \(at most 5\)/);
  expect(await exists('cap-6', 'other')).toBe(false);
  // Deleting one frees a place.
  const [del, again] = await turnAs('other', 'cap-c', { action: 'delete', id: 'cap-5' }, { action: 'create', id: 'cap-6', prompt: 'six', cron: NEVER });
  expect(del?.isError).toBe(false);
  expect(again?.isError).toBe(false);
});
