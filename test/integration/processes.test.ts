import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NeutralRequest, ScriptStep } from '../fake-llm/script.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { recordHistories } from '../helpers/histories.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

/**
 * Branches and workers end to end: the real worker and dev server, PGlite, and the fake LLM scripted
 * per process (told apart by the tools each process is offered). Assertions read the transcript and
 * the processes API, the database, and the workflow histories.
 */
const conv = (c: string) => `/v1/agents/main/conversations/${c}`;
const wfId = (c: string) => `channel:main:webhook:${c}`;

interface TranscriptMessage {
  direction: string;
  text: string;
  turn?: number;
}
interface ApiProcess {
  id: string;
  ref: string;
  state: string;
  status: string | null;
  result: string | null;
  toolCalls: number;
  temporalUiUrl?: string;
}

let env: TestWorkflowEnvironment;
let h: Harness;
beforeAll(async () => {
  env = await startTestTemporal();
  h = await createHarness({ env });
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
const toolResults = (req: NeutralRequest) => req.messages.flatMap((m) => m.toolResults ?? []);

async function transcript(c: string): Promise<TranscriptMessage[]> {
  const res = await h.request('GET', `${conv(c)}/messages`);
  return res.body.messages as TranscriptMessage[];
}

async function outboundMatching(c: string, pattern: RegExp, timeoutMs = 30_000): Promise<TranscriptMessage> {
  return eventually(async () => (await transcript(c)).find((m) => m.direction === 'outbound' && pattern.test(m.text)), timeoutMs, `a reply matching ${pattern}`);
}

async function processes(c: string): Promise<ApiProcess[]> {
  const res = await h.request('GET', `${conv(c)}/processes`);
  expect(res.status).toBe(200);
  return res.body.processes as ApiProcess[];
}

/** The channel's answer once its tools ran: say nothing more this turn. */
const skip: ScriptStep = { toolCalls: [{ name: 'skip', input: {} }] };

test('a worker writes a file, runs a command, reports its outcome, and the channel tells the user unprompted', async () => {
  h.fake.script((req): ScriptStep => {
    if (isWorker(req)) {
      const done = toolResults(req);
      if (done.length === 0) return { toolCalls: [{ name: 'set_status', input: { status: 'writing the file' } }, { name: 'file_write', input: { path: 'notes/hello.txt', content: 'hello' } }] };
      if (done.length === 2) return { toolCalls: [{ name: 'shell', input: { command: 'wc -c < notes/hello.txt' } }] };
      const shellOut = done[done.length - 1]?.text ?? '';
      const bytes = /\b(\d+)\b/.exec(shellOut)?.[1] ?? '?';
      return { toolCalls: [{ name: 'set_status', input: { status: `notes/hello.txt holds ${bytes} bytes`, done: true } }] };
    }
    if (req.lastUserText.includes('[Worker worker/1 completed]')) {
      const outcome = /Outcome: (.*)/.exec(req.lastUserText)?.[1] ?? '';
      return { toolCalls: [{ name: 'reply', input: { text: `Done: ${outcome}` } }] };
    }
    if (lastIsToolResult(req)) return skip;
    return { toolCalls: [{ name: 'reply', input: { text: 'Starting a worker on it.' } }, { name: 'spawn_worker', input: { task: 'Write hello into notes/hello.txt and count its bytes.' } }] };
  });
  const posted = await h.request('POST', `${conv('w1')}/messages`, { text: 'please make the file', wait: true });
  expect(posted.status).toBe(200);
  expect((posted.body.replies as { text: string }[]).map((r) => r.text)).toEqual(['Starting a worker on it.']);

  // Nobody asks again: the result turn runs on the worker's outcome and replies by itself.
  const done = await outboundMatching('w1', /^Done: /);
  expect(done.text).toBe('Done: notes/hello.txt holds 5 bytes');
  expect(readFileSync(path.join(h.config.agents[0]!.workspace, 'notes/hello.txt'), 'utf8')).toBe('hello');

  const [worker] = await processes('w1');
  expect(worker).toMatchObject({ id: `${wfId('w1')}/worker/1`, ref: 'worker/1', state: 'completed', result: 'notes/hello.txt holds 5 bytes', toolCalls: 4 });
  expect(worker?.temporalUiUrl).toContain(encodeURIComponent(`${wfId('w1')}/worker/1`));

  // The worker is its own run in Temporal, linked to the channel; its tools ran on the tools queue.
  const child = await h.env.client.workflow.getHandle(`${wfId('w1')}/worker/1`).describe();
  expect(child.type).toBe('workerWorkflow');
  expect(child.memo).toMatchObject({ process: 'worker', parent: wfId('w1') });
  const history = await h.env.client.workflow.getHandle(`${wfId('w1')}/worker/1`).fetchHistory();
  const toolQueues = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name === 'runWorkspaceTool' ? [e.activityTaskScheduledEventAttributes.taskQueue?.name] : []));
  expect(toolQueues.length).toBe(2);
  expect(toolQueues.every((q) => q?.endsWith('-tools'))).toBe(true);
  await recordHistories(h.env, wfId('w1'), 'worker-reports-result');
  await recordHistories(h.env, `${wfId('w1')}/worker/1`, 'worker-task');
});

test('a branch thinks with its own tools and the channel uses its conclusion; its steps stay out of the channel context', async () => {
  h.fake.script((req): ScriptStep => {
    if (isBranch(req)) {
      // Its context starts as a copy of the channel's (with the channel's own tool results), so ask what it did itself.
      const recalled = req.messages.some((m) => m.toolCalls?.some((c) => c.name === 'channel_recall'));
      if (!recalled) return { toolCalls: [{ name: 'channel_recall', input: { query: 'favourite' } }] };
      return { text: 'The user said their favourite colour is teal.' };
    }
    if (req.lastUserText.includes('[Branch branch/1 completed]')) {
      return { toolCalls: [{ name: 'reply', input: { text: `I checked: ${/Conclusion: (.*)/.exec(req.lastUserText)?.[1] ?? ''}` } }] };
    }
    if (req.lastUserText === 'my favourite colour is teal') return { toolCalls: [{ name: 'reply', input: { text: 'Noted.' } }] };
    if (lastIsToolResult(req)) return skip;
    return { toolCalls: [{ name: 'branch', input: { question: 'What is the user’s favourite colour?' } }, { name: 'reply', input: { text: 'Let me think.' } }] };
  });
  await h.request('POST', `${conv('b1')}/messages`, { text: 'my favourite colour is teal', wait: true });
  await h.request('POST', `${conv('b1')}/messages`, { text: 'what is my favourite colour?', wait: true });
  const answer = await outboundMatching('b1', /^I checked: /);
  expect(answer.text).toBe('I checked: The user said their favourite colour is teal.');

  // The branch read the transcript through channel_recall; the channel's own context never saw that call.
  const branchRequests = neutralRequests().filter((r) => r.tools.includes('channel_recall'));
  expect(branchRequests.length).toBe(2);
  expect(toolResults(branchRequests[1]!).pop()?.text).toContain('my favourite colour is teal');
  const channelEntries = await h.database.db.selectFrom('context_entries').select('content').where('channel_id', '=', wfId('b1')).execute();
  expect(JSON.stringify(channelEntries)).not.toContain('channel_recall');
  // The branch started from a copy of the channel's context.
  expect(JSON.stringify(branchRequests[0]!.messages)).toContain('my favourite colour is teal');
  await recordHistories(h.env, wfId('b1'), 'branch-conclusion');
  await recordHistories(h.env, `${wfId('b1')}/branch/1`, 'branch-task');
});

test('cancel stops a worker running a long shell command within seconds, and kills the command', async () => {
  const marker = `sleep 60.${process.pid}`;
  h.fake.script((req): ScriptStep => {
    if (isWorker(req)) return { toolCalls: [{ name: 'shell', input: { command: marker, timeout_seconds: 120 } }] };
    if (req.lastUserText.startsWith('stop it')) {
      if (lastIsToolResult(req)) return { toolCalls: [{ name: 'reply', input: { text: 'Stopped it.' } }] };
      return { toolCalls: [{ name: 'cancel', input: { id: 'worker/1' } }] };
    }
    if (lastIsToolResult(req)) return skip;
    return { toolCalls: [{ name: 'spawn_worker', input: { task: 'Wait a minute.' } }] };
  });
  await h.request('POST', `${conv('c1')}/messages`, { text: 'wait a minute in the background', wait: true });
  await eventually(async () => (pgrep(marker) ? true : undefined), 20_000, 'the shell command to start');

  const started = Date.now();
  const stop = await h.request('POST', `${conv('c1')}/messages`, { text: 'stop it', wait: true });
  expect((stop.body.replies as { text: string }[]).map((r) => r.text)).toEqual(['Stopped it.']);
  await eventually(async () => (pgrep(marker) ? undefined : true), 20_000, 'the shell command to be killed');
  await eventually(async () => ((await processes('c1'))[0]?.state === 'cancelled' ? true : undefined), 20_000, 'the worker to be cancelled');
  // The worker waits for its tool to stop, then ends as cancelled.
  const handle = h.env.client.workflow.getHandle(`${wfId('c1')}/worker/1`);
  await eventually(async () => ((await handle.describe()).status.name === 'CANCELLED' ? true : undefined), 20_000, 'the worker run to end cancelled');
  expect(Date.now() - started).toBeLessThan(30_000);
  const history = await handle.fetchHistory();
  expect((history.events ?? []).some((e) => e.activityTaskCanceledEventAttributes)).toBe(true);
  await recordHistories(h.env, wfId('c1'), 'worker-cancelled');
  await recordHistories(h.env, `${wfId('c1')}/worker/1`, 'worker-cancelled-task');
});

test('a worker asked to leave its workspace gets a clear tool error', async () => {
  h.fake.script((req): ScriptStep => {
    if (isWorker(req)) {
      const results = toolResults(req);
      if (results.length === 0) return { toolCalls: [{ name: 'file_read', input: { path: '../../../../etc/passwd' } }] };
      return { toolCalls: [{ name: 'set_status', input: { status: `refused: ${results[0]?.text ?? ''}`, done: true } }] };
    }
    if (req.lastUserText.includes('[Worker worker/1 completed]')) return { toolCalls: [{ name: 'reply', input: { text: 'reported' } }] };
    if (lastIsToolResult(req)) return skip;
    return { toolCalls: [{ name: 'spawn_worker', input: { task: 'Read /etc/passwd' } }] };
  });
  await h.request('POST', `${conv('t1')}/messages`, { text: 'read the password file', wait: true });
  await outboundMatching('t1', /^reported$/);
  const [worker] = await processes('t1');
  expect(worker?.result).toMatch(/^refused: /);
  expect(worker?.result).toMatch(/workspace/i);
  expect(worker?.result).not.toContain('root:');
  const rows = await h.database.db.selectFrom('context_entries').select(['role', 'content']).where('channel_id', '=', `${wfId('t1')}/worker/1`).where('role', '=', 'tool').execute();
  expect(rows[0]?.content).toMatchObject({ isError: true });
});

test('the channel answers while a worker is busy', async () => {
  h.fake.script((req): ScriptStep => {
    if (isWorker(req)) return { toolCalls: [{ name: 'shell', input: { command: `sleep 20.${process.pid}`, timeout_seconds: 60 } }] };
    if (req.lastUserText.startsWith('are you there?')) return { toolCalls: [{ name: 'reply', input: { text: 'Yes, still here.' } }] };
    if (lastIsToolResult(req)) return skip;
    return { toolCalls: [{ name: 'spawn_worker', input: { task: 'A long job.' } }] };
  });
  await h.request('POST', `${conv('busy')}/messages`, { text: 'start the long job', wait: true });
  await eventually(async () => (pgrep(`sleep 20.${process.pid}`) ? true : undefined), 20_000, 'the long job to start');
  const res = await h.request('POST', `${conv('busy')}/messages`, { text: 'are you there?', wait: true });
  expect((res.body.replies as { text: string }[]).map((r) => r.text)).toEqual(['Yes, still here.']);
  expect((await processes('busy'))[0]?.state).toBe('running');
  // The status block told the model what runs.
  const last = neutralRequests().filter((r) => r.lastUserText.startsWith('are you there?')).pop();
  expect(JSON.stringify(last?.messages)).toContain('worker/1');
  await h.request('POST', `${conv('busy')}/processes/worker/1/cancel`);
});

function neutralRequests(): NeutralRequest[] {
  return h.fake.requests.flatMap((r) => (r.neutral ? [r.neutral] : []));
}

function pgrep(pattern: string): boolean {
  try {
    execFileSync('pgrep', ['-f', pattern]);
    return true;
  } catch {
    return false;
  }
}

test('an interactive worker reports each round, takes a follow-up through route, and a user stop through the API ends it', async () => {
  h.fake.script((req): ScriptStep => {
    if (isWorker(req)) {
      const followUp = req.messages.filter((m) => m.role === 'user' && m.text.startsWith('[Follow-up')).pop();
      const rounds = req.messages.filter((m) => m.toolCalls?.some((c) => c.name === 'set_status')).length;
      if (followUp && rounds === 1) return { toolCalls: [{ name: 'set_status', input: { status: `round 2: ${followUp.text.replace(/^\[[^\]]*\] /, '')}`, done: true } }] };
      return { toolCalls: [{ name: 'set_status', input: { status: 'round 1 done', done: true } }] };
    }
    const result = /\[Worker worker\/1 finished a round and waits for a follow-up\] Task: .*\nOutcome: (.*)/.exec(req.lastUserText);
    if (result) return { toolCalls: [{ name: 'reply', input: { text: `worker says: ${result[1]}` } }] };
    if (req.lastUserText.includes('[Worker worker/1 cancelled]')) return { toolCalls: [{ name: 'reply', input: { text: 'helper stopped' } }] };
    if (lastIsToolResult(req)) return skip;
    if (req.lastUserText.startsWith('also count to three')) return { toolCalls: [{ name: 'route', input: { to: 'worker/1', message: 'count to three' } }] };
    return { toolCalls: [{ name: 'spawn_worker', input: { task: 'be my helper', interactive: true } }] };
  });
  await h.request('POST', `${conv('i1')}/messages`, { text: 'start a helper', wait: true });
  await outboundMatching('i1', /^worker says: round 1 done$/);
  expect((await processes('i1'))[0]).toMatchObject({ ref: 'worker/1', state: 'waiting' });

  await h.request('POST', `${conv('i1')}/messages`, { text: 'also count to three', wait: true });
  await outboundMatching('i1', /^worker says: round 2: count to three$/);

  const stop = await h.request('POST', `${conv('i1')}/processes/worker/1/cancel`);
  expect(stop.status).toBe(200);
  const handle = h.env.client.workflow.getHandle(`${wfId('i1')}/worker/1`);
  await eventually(async () => ((await handle.describe()).status.name === 'CANCELLED' ? true : undefined), 20_000, 'the worker to end cancelled');
  // The channel tells the conversation about the user's stop by itself.
  await outboundMatching('i1', /^helper stopped$/);
  const again = await h.request('POST', `${conv('i1')}/processes/worker/1/cancel`);
  expect(again.status).toBe(409);
  await recordHistories(h.env, `${wfId('i1')}/worker/1`, 'worker-interactive');
});
