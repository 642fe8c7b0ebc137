import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NeutralRequest, ScriptStep } from '../fake-llm/script.js';
import { gate } from '../helpers/gate.js';
import { createHarness, eventually, workflowExists, type Harness } from '../helpers/harness.js';
import { recordHistories } from '../helpers/histories.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

/**
 * Issue 15, findings 2 and 3: a channel run never fails on a recoverable condition (a route to a
 * closed worker, a child id still held, an oversized continue-as-new input), children outlive an
 * interrupted turn, and parallel spawns respect the limit. The real worker, dev server and database,
 * the fake LLM scripted per process; assertions read replies, the processes API and Temporal.
 */
const conv = (c: string) => `/v1/agents/main/conversations/${c}`;
const wfId = (c: string) => `channel:main:webhook:${c}`;

interface TranscriptMessage {
  direction: string;
  text: string;
}

const SMALL_MODEL = 'openai/gpt-5-mini';

let env: TestWorkflowEnvironment;
let h: Harness;
beforeAll(async () => {
  env = await startTestTemporal();
  // Continue-as-new after every second turn: each scenario also crosses a run boundary.
  // The "compact" agent's model has a small window, so the channel starts a compactor when the fake model says so.
  h = await createHarness({
    env,
    toml: `max_workers = 2\nmax_branches = 10\ncontinue_as_new_after_turns = 2\n\n[models."${SMALL_MODEL}"]\ncontext_window = 2000\n\n[[agents]]\nid = "main"\n\n[[agents]]\nid = "compact"\nmodel = "${SMALL_MODEL}"\n`,
  });
});
afterAll(async () => {
  await h?.close();
  await env?.teardown();
});
beforeEach(() => h.fake.reset());

const isWorker = (req: NeutralRequest) => req.tools.includes('set_status');
const isBranch = (req: NeutralRequest) => req.tools.includes('channel_recall');
/** The call after the channel's tools ran (the status block, when present, follows the tool results). */
const lastIsToolResult = (req: NeutralRequest) => {
  const [before, last] = req.messages.slice(-2);
  return last?.role === 'tool' || (last?.role === 'user' && last.text.startsWith('<status>') && before?.role === 'tool');
};
/** The channel repeats what its tools said, so the user (and the test) reads it. */
const echoToolResults = (req: NeutralRequest): ScriptStep => ({
  toolCalls: [{ name: 'reply', input: { text: `tools said: ${lastToolResults(req).join(' | ')}` } }],
});
function lastToolResults(req: NeutralRequest): string[] {
  const last = [...req.messages].reverse().find((m) => m.toolResults?.length);
  return (last?.toolResults ?? []).map((r) => r.text);
}

async function transcript(c: string): Promise<TranscriptMessage[]> {
  return (await h.request('GET', `${conv(c)}/messages`)).body.messages as TranscriptMessage[];
}
async function outboundMatching(c: string, pattern: RegExp, timeoutMs = 40_000): Promise<TranscriptMessage> {
  return eventually(async () => (await transcript(c)).find((m) => m.direction === 'outbound' && pattern.test(m.text)), timeoutMs, `a reply matching ${pattern}`);
}
async function statusOf(id: string): Promise<string | undefined> {
  return (await h.env.client.workflow.getHandle(id).describe().catch(() => undefined))?.status.name;
}
/** Close statuses of every run of a workflow id, oldest first. */
async function runStatuses(id: string): Promise<string[]> {
  const runs: { start: number; status: string }[] = [];
  for await (const e of h.env.client.workflow.list({ query: `WorkflowId = '${id}'` })) runs.push({ start: e.startTime.getTime(), status: e.status.name });
  return runs.sort((a, b) => a.start - b.start).map((r) => r.status);
}

test('route to an interactive worker whose run has closed is a tool error the model reads, and the channel keeps answering', async () => {
  h.fake.script((req): ScriptStep => {
    if (isWorker(req)) return { toolCalls: [{ name: 'set_status', input: { status: 'round 1 done', done: true } }] };
    if (/\[Worker worker\/1 finished a round/.test(req.lastUserText)) return { toolCalls: [{ name: 'reply', input: { text: 'helper is waiting' } }] };
    if (lastIsToolResult(req)) return echoToolResults(req);
    if (req.lastUserText.startsWith('also count')) return { toolCalls: [{ name: 'route', input: { to: 'worker/1', message: 'count to three' } }] };
    if (req.lastUserText.startsWith('still there?')) return { toolCalls: [{ name: 'reply', input: { text: 'yes' } }] };
    return { toolCalls: [{ name: 'spawn_worker', input: { task: 'be my helper', interactive: true } }] };
  });
  await h.request('POST', `${conv('route-closed')}/messages`, { text: 'start a helper', wait: true });
  await outboundMatching('route-closed', /^helper is waiting$/);
  // Its run closes without a word to the channel.
  await h.env.client.workflow.getHandle(`${wfId('route-closed')}/worker/1`).terminate('test: the worker run is gone');

  const routed = await h.request('POST', `${conv('route-closed')}/messages`, { text: 'also count to three', wait: true });
  expect(routed.status).toBe(200);
  expect((routed.body.replies as { text: string }[])[0]?.text).toMatch(/^tools said: worker\/1 has finished: its run is closed/);
  const processes = (await h.request('GET', `${conv('route-closed')}/processes`)).body.processes as { ref: string; state: string }[];
  expect(processes.find((p) => p.ref === 'worker/1')?.state).toBe('failed');

  const next = await h.request('POST', `${conv('route-closed')}/messages`, { text: 'still there?', wait: true });
  expect((next.body.replies as { text: string }[]).map((r) => r.text)).toEqual(['yes']);
  expect((await runStatuses(wfId('route-closed'))).filter((s) => s === 'FAILED' || s === 'TERMINATED')).toEqual([]);
  await recordHistories(h.env, wfId('route-closed'), 'route-closed-worker');
});

test('a worker id still held by a running workflow (after a Reset) makes the channel start the worker under the next number', async () => {
  // What a Reset leaves: worker/1's id held by a run the channel no longer knows (on a queue nobody polls).
  const held = `${wfId('id-held')}/worker/1`;
  await h.env.client.workflow.start('workerWorkflow', { workflowId: held, taskQueue: `nobody-polls-${process.pid}`, args: [] });
  try {
    h.fake.script((req): ScriptStep => {
      if (isWorker(req)) return { toolCalls: [{ name: 'set_status', input: { status: 'did it', done: true } }] };
      if (/\[Worker worker\/2 completed\]/.test(req.lastUserText)) return { toolCalls: [{ name: 'reply', input: { text: 'worker/2 finished' } }] };
      if (lastIsToolResult(req)) return echoToolResults(req);
      return { toolCalls: [{ name: 'spawn_worker', input: { task: 'do it' } }] };
    });
    const res = await h.request('POST', `${conv('id-held')}/messages`, { text: 'do it', wait: true });
    expect(res.status).toBe(200);
    expect((res.body.replies as { text: string }[])[0]?.text).toMatch(/^tools said: Started worker\/2\./);
    await outboundMatching('id-held', /^worker\/2 finished$/);
    const child = await h.env.client.workflow.getHandle(`${wfId('id-held')}/worker/2`).describe();
    expect(child.type).toBe('workerWorkflow');
    expect(child.memo).toMatchObject({ parent: wfId('id-held') });
    expect(await statusOf(held)).toBe('RUNNING');
    expect((await runStatuses(wfId('id-held'))).filter((s) => s === 'FAILED' || s === 'TERMINATED')).toEqual([]);
    await recordHistories(h.env, wfId('id-held'), 'child-id-held');
  } finally {
    await h.env.client.workflow.getHandle(held).terminate('test cleanup');
  }
});

test('parallel spawn_worker calls in one step start only as many workers as the limit allows', async () => {
  const hold = gate();
  h.fake.script(async (req): Promise<ScriptStep> => {
    if (isWorker(req)) {
      await hold.promise;
      return { toolCalls: [{ name: 'set_status', input: { status: 'done', done: true } }] };
    }
    if (/\[Worker worker\/\d (completed|failed|cancelled)\]/.test(req.lastUserText)) return { toolCalls: [{ name: 'skip', input: {} }] };
    if (lastIsToolResult(req)) return echoToolResults(req);
    return { toolCalls: [1, 2, 3].map((i) => ({ name: 'spawn_worker', input: { task: `job ${i}` } })) };
  });
  try {
    const res = await h.request('POST', `${conv('spawn-limit')}/messages`, { text: 'three jobs at once', wait: true });
    expect(res.status).toBe(200);
    const said = (res.body.replies as { text: string }[])[0]?.text ?? '';
    expect(said.match(/Started worker\/\d/g)).toHaveLength(2);
    expect(said).toMatch(/Not started: 2 workers are already running \(the limit is 2\)/);
    // Temporal holds exactly two worker runs of this channel.
    const children: string[] = [];
    for await (const e of h.env.client.workflow.list({ query: `WorkflowType = 'workerWorkflow'` })) if (e.workflowId.startsWith(`${wfId('spawn-limit')}/`)) children.push(e.workflowId);
    expect(children.sort()).toEqual([`${wfId('spawn-limit')}/worker/1`, `${wfId('spawn-limit')}/worker/2`]);
    expect(await workflowExists(h, `${wfId('spawn-limit')}/worker/3`)).toBe(false);
  } finally {
    hold.open();
  }
  await eventually(async () => ((await statusOf(`${wfId('spawn-limit')}/worker/2`)) === 'COMPLETED' ? true : undefined), 30_000, 'the workers to finish');
  await recordHistories(h.env, wfId('spawn-limit'), 'spawn-limit-parallel');
});

test('interrupt: a worker started by the interrupted turn keeps running and later reports its result to the conversation', async () => {
  await h.request('POST', `${conv('int-worker')}/messages`, { text: 'hello', wait: true });
  expect((await h.request('PUT', `${conv('int-worker')}/queue-mode`, { queue_mode: 'interrupt' })).body).toEqual({ queueMode: 'interrupt' });
  h.fake.reset();
  const workerGate = gate();
  const never = gate();
  h.fake.script(async (req): Promise<ScriptStep> => {
    if (isWorker(req)) {
      await workerGate.promise;
      return { toolCalls: [{ name: 'set_status', input: { status: 'the long job is done', done: true } }] };
    }
    const outcome = /\[Worker worker\/1 completed\][^\n]*\nOutcome: (.*)/.exec(req.lastUserText);
    if (outcome) return { toolCalls: [{ name: 'reply', input: { text: `worker says: ${outcome[1]}` } }] };
    if (req.lastUserText.startsWith('m2')) return { toolCalls: [{ name: 'reply', input: { text: 'answer to m2' } }] };
    // The turn that started the worker is still thinking when m2 interrupts it.
    if (lastIsToolResult(req)) await never.promise;
    return { toolCalls: [{ name: 'spawn_worker', input: { task: 'a long job' } }] };
  });
  const workerId = `${wfId('int-worker')}/worker/1`;
  try {
    await h.request('POST', `${conv('int-worker')}/messages`, { text: 'm1 start the long job' });
    await eventually(async () => (h.fake.requests.some((r) => r.neutral && isWorker(r.neutral)) ? true : undefined), 30_000, 'the worker to call its model');
    await eventually(async () => (h.fake.requests.some((r) => r.neutral && !isWorker(r.neutral) && lastIsToolResult(r.neutral)) ? true : undefined), 30_000, 'the turn to go on after the spawn');
    const m2 = await h.request('POST', `${conv('int-worker')}/messages`, { text: 'm2', wait: true });
    expect(m2.status).toBe(200);
    await outboundMatching('int-worker', /^answer to m2$/);
    expect(await statusOf(workerId)).toBe('RUNNING');

    workerGate.open();
    await outboundMatching('int-worker', /^worker says: the long job is done$/);
    expect(await statusOf(workerId)).toBe('COMPLETED');
    // The interrupt cancelled the turn's LLM call, never the child.
    const events = [];
    for (const runId of await runIds(wfId('int-worker'))) events.push(...((await h.env.client.workflow.getHandle(wfId('int-worker'), runId).fetchHistory()).events ?? []));
    expect(events.some((e) => e.activityTaskCancelRequestedEventAttributes)).toBe(true);
    expect(events.some((e) => e.requestCancelExternalWorkflowExecutionInitiatedEventAttributes)).toBe(false);
    const workerEvents = (await h.env.client.workflow.getHandle(workerId).fetchHistory()).events ?? [];
    expect(workerEvents.some((e) => e.workflowExecutionCancelRequestedEventAttributes)).toBe(false);
  } finally {
    workerGate.open();
    never.open();
  }
  await recordHistories(h.env, wfId('int-worker'), 'interrupt-worker-survives');
});

test('a channel whose finished branches left outcomes past the payload limit continues as new and reports them', async () => {
  const BRANCHES = 6;
  const conclusion = (n: string) => `conclusion ${n}: ${'lorem ipsum '.repeat(34_000)}`; // about 400 KB each, 2.4 MB in all
  const branchGate = gate();
  const turnGate = gate();
  h.fake.script(async (req): Promise<ScriptStep> => {
    if (isBranch(req)) {
      await branchGate.promise;
      return { text: conclusion(/Question: question (\d+)/.exec(JSON.stringify(req.messages))?.[1] ?? '?') };
    }
    if (req.lastUserText.includes('[Branch branch/')) {
      return { toolCalls: [{ name: 'reply', input: { text: `heard ${branchResults(req).length} branches` } }] };
    }
    if (req.lastUserText.startsWith('hold on')) {
      await turnGate.promise;
      return { toolCalls: [{ name: 'reply', input: { text: 'held' } }] };
    }
    if (lastIsToolResult(req)) return { toolCalls: [{ name: 'skip', input: {} }] };
    return { toolCalls: Array.from({ length: BRANCHES }, (_, i) => ({ name: 'branch', input: { question: `question ${i + 1}` } })) };
  });
  try {
    await h.request('POST', `${conv('big-can')}/messages`, { text: 'think about six things', wait: true });
    // The second turn holds while every branch finishes: their outcomes arrive unreported, then the run continues as new.
    await h.request('POST', `${conv('big-can')}/messages`, { text: 'hold on' });
    await eventually(async () => (h.fake.requests.some((r) => r.neutral?.lastUserText.startsWith('hold on')) ? true : undefined), 30_000, 'the second turn');
    branchGate.open();
    for (let i = 1; i <= BRANCHES; i++) await eventually(async () => ((await statusOf(`${wfId('big-can')}/branch/${i}`)) === 'COMPLETED' ? true : undefined), 60_000, `branch ${i}`);
  } finally {
    branchGate.open();
    turnGate.open();
  }
  await outboundMatching('big-can', new RegExp(`^heard ${BRANCHES} branches$`), 60_000);
  const statuses = await runStatuses(wfId('big-can'));
  expect(statuses[0]).toBe('CONTINUED_AS_NEW');
  expect(statuses.filter((s) => s === 'FAILED' || s === 'TERMINATED')).toEqual([]);
  // The outcomes went on clipped, saying where the whole text is.
  const reportedIn = h.fake.requests.flatMap((r) => (r.neutral?.lastUserText.includes('[Branch branch/') ? [r.neutral] : []));
  const results = branchResults(reportedIn[0]!);
  expect(results).toHaveLength(BRANCHES);
  for (const r of results) {
    expect(r).toContain(` … [clipped: the whole text is the result of workflow ${wfId('big-can')}/branch/`);
    expect(r.length).toBeLessThan(4096);
  }
  const next = await h.request('POST', `${conv('big-can')}/messages`, { text: 'hold on again', wait: true });
  expect((next.body.replies as { text: string }[]).map((r) => r.text)).toEqual(['held']);
  // Not recorded as a fixture: its history holds megabytes of branch outcomes, and the bound adds no command.
});

/** The branch results a channel request carries (one context message each, possibly merged by the provider format). */
function branchResults(req: NeutralRequest): string[] {
  const text = req.messages.filter((m) => m.role === 'user').map((m) => m.text).join('\n');
  return text.split(/(?=\[Branch branch\/\d completed\])/).filter((t) => t.startsWith('[Branch branch/')).map((t) => t.trim());
}

test('a compactor whose workflow id is still held does not stop the turn: the reply goes out and the channel keeps answering', async () => {
  const channel = 'channel:compact:webhook:cmp-held';
  // Turn 2's compactor id, held by a run a Reset left behind (on a queue nobody polls).
  const held = `${channel}/compactor/2`;
  await h.env.client.workflow.start('compactorWorkflow', { workflowId: held, taskQueue: `nobody-polls-${process.pid}`, args: [] });
  const say = async (text: string) => {
    const res = await h.request('POST', `/v1/agents/compact/conversations/cmp-held/messages`, { text, wait: true });
    expect(res.status).toBe(200);
    return (res.body.replies as { text: string }[]).map((r) => r.text);
  };
  try {
    let usage = 400;
    h.fake.script((req): ScriptStep => ({ toolCalls: [{ name: 'reply', input: { text: `reply to ${req.lastUserText.split('\n')[0]}` } }], usage: { input: usage, output: 5 } }));
    expect(await say('message 1')).toEqual(['reply to message 1']);
    // 82 % of the window: the channel wants a compactor for turn 2, whose id is taken.
    usage = 1640;
    expect(await say('message 2')).toEqual(['reply to message 2']);
    usage = 400;
    expect(await say('message 3')).toEqual(['reply to message 3']);
    expect((await runStatuses(channel)).filter((s) => s === 'FAILED' || s === 'TERMINATED')).toEqual([]);
    const events = [];
    for (const runId of await runIds(channel)) events.push(...((await h.env.client.workflow.getHandle(channel, runId).fetchHistory()).events ?? []));
    expect(events.some((e) => e.startChildWorkflowExecutionFailedEventAttributes?.workflowId === held)).toBe(true);
    await recordHistories(h.env, channel, 'compactor-id-held');
  } finally {
    await h.env.client.workflow.getHandle(held).terminate('test cleanup');
  }
});

async function runIds(id: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const e of h.env.client.workflow.list({ query: `WorkflowId = '${id}'` })) ids.push(e.runId);
  return ids;
}
