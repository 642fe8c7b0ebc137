import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { statusQuery, submitMessageUpdate } from '../../workflows/channel-contract.js';
import type { NeutralRequest, ScriptStep } from '../fake-llm/script.js';
import { gate } from '../helpers/gate.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { recordHistories } from '../helpers/histories.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

/**
 * A channel run closed anyway (terminated here; a reset or a bug closes it the same way): the next
 * run of the same workflow id takes its state over from Postgres and Temporal's visibility, so the
 * conversation goes on at the right turn and nothing already answered is answered again. Real dev
 * server, real database, fake LLM; assertions through the API, the transcript and context rows.
 */
const conv = (c: string) => `/v1/agents/main/conversations/${c}`;
const wfId = (c: string) => `channel:main:webhook:${c}`;

interface Reply {
  text: string;
}
interface TranscriptMessage {
  direction: string;
  text: string;
  messageId: string;
  turn?: number;
  replyTo?: string;
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

async function transcript(c: string): Promise<TranscriptMessage[]> {
  const res = await h.request('GET', `${conv(c)}/messages`);
  return res.body.messages as TranscriptMessage[];
}

async function send(c: string, text: string, messageId: string, wait: boolean | number = 30_000) {
  return h.request('POST', `${conv(c)}/messages`, { text, messageId, wait });
}

/** Closes the channel's current run the hard way: no continue-as-new, no chance to hand anything over. */
async function terminate(c: string): Promise<void> {
  const handle = h.env.client.workflow.getHandle(wfId(c));
  await handle.terminate('closed by the test');
  const { status } = await handle.describe();
  expect(status.name).toBe('TERMINATED');
}

const userTexts = (req: NeutralRequest | undefined) => (req?.messages ?? []).filter((m) => m.role === 'user').map((m) => m.text);

test('a message after the run was terminated gets its own reply at the next turn; earlier turns stay as they were', async () => {
  h.fake.script((req) => ({ text: `answer to ${req.lastUserText}` }));
  expect((await send('t1', 'first', 't1-1')).body).toMatchObject({ status: 'completed', turn: 1 });
  expect((await send('t1', 'second', 't1-2')).body).toMatchObject({ status: 'completed', turn: 2 });
  const before = await h.database.db.selectFrom('context_entries').selectAll().where('channel_id', '=', wfId('t1')).orderBy('turn_seq').orderBy('step').orderBy('idx').execute();
  await terminate('t1');

  const third = await send('t1', 'third', 't1-3');
  expect(third.status).toBe(200);
  expect(third.body).toMatchObject({ status: 'completed', turn: 3, duplicate: false });
  expect((third.body.replies as Reply[]).map((r) => r.text)).toEqual(['answer to third']);
  // The new run is another run of the same workflow id.
  const { runId } = await h.env.client.workflow.getHandle(wfId('t1')).describe();
  expect(third.body.runId).toBe(runId);
  // Its timeline says it took over at turn 2 and answered turn 3.
  const timeline = await h.request('GET', `/v1/runs/${encodeURIComponent(wfId('t1'))}?runId=${runId}`);
  const steps = timeline.body.steps as { kind: string; turn?: number }[];
  const recovery = steps.findIndex((st) => st.kind === 'recovery');
  expect(steps[recovery]).toMatchObject({ kind: 'recovery', turn: 2 });
  expect(steps.slice(recovery).find((st) => st.kind === 'turn')).toMatchObject({ turn: 3 });

  const messages = await transcript('t1');
  expect(messages.map((m) => [m.direction, m.text, m.turn])).toEqual([
    ['inbound', 'first', 1],
    ['outbound', 'answer to first', 1],
    ['inbound', 'second', 2],
    ['outbound', 'answer to second', 2],
    ['inbound', 'third', 3],
    ['outbound', 'answer to third', 3],
  ]);
  // Turns 1 and 2 of the context are untouched; turn 3 is new, after them.
  const after = await h.database.db.selectFrom('context_entries').selectAll().where('channel_id', '=', wfId('t1')).orderBy('turn_seq').orderBy('step').orderBy('idx').execute();
  expect(after.filter((e) => e.turn_seq <= 2)).toEqual(before);
  expect(after.filter((e) => e.turn_seq === 3).length).toBeGreaterThan(0);
  // The new turn's model saw the whole conversation, once.
  expect(h.fake.requests[2]?.neutral?.messages.map((m) => m.text)).toEqual(['first', 'answer to first', 'second', 'answer to second', 'third']);
  await recordHistories(h.env, wfId('t1'), 'channel-recovery-after-terminate');
}, 120_000);

test('a message id answered before the run was terminated is a duplicate in the next run, not answered again', async () => {
  h.fake.script((req) => ({ text: `answer to ${req.lastUserText}` }));
  const first = await send('t2', 'hello', 't2-1');
  expect(first.body).toMatchObject({ status: 'completed', turn: 1 });
  await terminate('t2');

  // Without wait (a wait would be answered by Temporal from the closed run's update of the same id).
  const again = await send('t2', 'hello', 't2-1', false);
  expect(again.status).toBe(202);
  expect(again.body).toMatchObject({ duplicate: true });
  expect(again.body.runId).not.toBe(first.body.runId);
  // A new message to the same run is still answered, after the earlier turn.
  const next = await send('t2', 'still there?', 't2-2');
  expect(next.body).toMatchObject({ status: 'completed', turn: 2, duplicate: false });
  expect(h.fake.requests).toHaveLength(2);
  expect((await transcript('t2')).map((m) => [m.direction, m.text])).toEqual([
    ['inbound', 'hello'],
    ['outbound', 'answer to hello'],
    ['inbound', 'still there?'],
    ['outbound', 'answer to still there?'],
  ]);
}, 120_000);

test('messages accepted but not answered when the run was terminated are answered by the next run', async () => {
  const hold = gate();
  h.fake.script(async (req) => {
    if (req.lastUserText === 'one') await hold.promise;
    // Consecutive user messages reach the model as one message, a line each.
    return { text: `answer to ${req.lastUserText.replaceAll('\n', ' + ')}` };
  });
  try {
    // "one" is recorded and its turn is in the model when the run is closed; "two" waits in the queue.
    expect((await send('t3', 'one', 't3-1', false)).status).toBe(202);
    await eventually(() => (h.fake.requests.length ? true : undefined), 20_000, 'the first LLM call');
    expect((await send('t3', 'two', 't3-2', false)).status).toBe(202);
    await eventually(async () => ((await h.env.client.workflow.getHandle(wfId('t3')).query(statusQuery)).queued === 1 ? true : undefined), 20_000, 'the second message queued');
    await terminate('t3');

    const three = await send('t3', 'three', 't3-3');
    expect(three.status).toBe(200);
    expect(three.body).toMatchObject({ status: 'completed', turn: 2, duplicate: false });
    // One turn answers all three: the cut-off turn's message (from the context), the queued one and the new one.
    expect((three.body.replies as Reply[]).map((r) => r.text)).toEqual(['answer to one + two + three']);
    const last = h.fake.requests[h.fake.requests.length - 1]?.neutral;
    expect(userTexts(last)).toEqual(['one\ntwo\nthree']);

    const messages = await transcript('t3');
    expect(messages.map((m) => [m.direction, m.text, m.turn])).toEqual([
      ['inbound', 'one', 1],
      ['inbound', 'two', 2],
      ['inbound', 'three', 2],
      ['outbound', 'answer to one + two + three', 2],
    ]);
    // Answered: their intake copies are gone, and a retry of either is a duplicate.
    const bodies = await h.database.db.withTables<{ inbound_bodies: { channel_id: string; message_id: string } }>().selectFrom('inbound_bodies').select('message_id').where('channel_id', '=', wfId('t3')).execute();
    expect(bodies).toEqual([]);
    const retried = await send('t3', 'two', 't3-2');
    expect(retried.body).toMatchObject({ status: 'completed', duplicate: true });
    await recordHistories(h.env, wfId('t3'), 'channel-recovery-unanswered');
  } finally {
    hold.open();
  }
}, 120_000);

test('a reply recorded but never posted when the run was closed is posted by the next run, once', async () => {
  h.fake.script((req) => ({ text: `answer to ${req.lastUserText}` }));
  await send('t4', 'first', 't4-1');
  // As if the run had been closed between recording the reply and posting it.
  const reset = await h.database.db.updateTable('deliveries').set({ status: 'pending', delivered_at: null }).where('channel_id', '=', wfId('t4')).returning(['key', 'attempts']).execute();
  expect(reset).toHaveLength(1);
  await terminate('t4');

  const next = await send('t4', 'second', 't4-2');
  expect(next.body).toMatchObject({ status: 'completed', turn: 2 });
  const redelivered = await eventually(async () => {
    const row = await h.database.db.selectFrom('deliveries').selectAll().where('key', '=', reset[0]!.key).executeTakeFirstOrThrow();
    return row.status === 'delivered' ? row : undefined;
  }, 20_000, 'the old reply delivered');
  expect(redelivered.attempts).toBe(reset[0]!.attempts + 1);
  // Delivered again under its own key: no second transcript row.
  expect((await transcript('t4')).filter((m) => m.text === 'answer to first')).toHaveLength(1);
}, 120_000);

test('a caller cannot mark a message as already recorded: only a recovering run does', async () => {
  h.fake.script((req) => ({ text: `answer to ${req.lastUserText}` }));
  await send('t6', 'hello', 't6-1');
  const handle = h.env.client.workflow.getHandle(wfId('t6'));
  await expect(
    handle.executeUpdate(submitMessageUpdate, { args: [{ message: { messageId: 't6-2', text: 'skip the transcript', receivedAt: new Date().toISOString(), recorded: true }, wait: false }] }),
  ).rejects.toThrow();
  expect((await transcript('t6')).map((m) => m.text)).toEqual(['hello', 'answer to hello']);
  expect((await handle.query(statusQuery)).queued).toBe(0);
}, 60_000);

const isWorker = (req: NeutralRequest) => req.tools.includes('set_status');
const lastIsToolResult = (req: NeutralRequest) => {
  const [before, last] = req.messages.slice(-2);
  return last?.role === 'tool' || (last?.role === 'user' && last.text.startsWith('<status>') && before?.role === 'tool');
};

test('a worker started by the terminated run reports its result to the next run, and new workers get fresh ids', async () => {
  const hold = gate();
  let workerCalls = 0;
  h.fake.script(async (req): Promise<ScriptStep> => {
    if (isWorker(req)) {
      workerCalls++;
      await hold.promise;
      return { toolCalls: [{ name: 'set_status', input: { status: 'counted 42 sheep', done: true } }] };
    }
    if (req.lastUserText.includes('[Worker worker/1 completed]')) return { toolCalls: [{ name: 'reply', input: { text: `Done: ${/Outcome: (.*)/.exec(req.lastUserText)?.[1] ?? ''}` } }] };
    if (lastIsToolResult(req)) return { toolCalls: [{ name: 'skip', input: {} }] };
    if (req.lastUserText.startsWith('count the sheep')) return { toolCalls: [{ name: 'reply', input: { text: 'Starting a worker.' } }, { name: 'spawn_worker', input: { task: 'Count the sheep.' } }] };
    return { toolCalls: [{ name: 'reply', input: { text: `answer to ${req.lastUserText}` } }] };
  });
  try {
    const started = await send('t5', 'count the sheep', 't5-1');
    expect((started.body.replies as Reply[]).map((r) => r.text)).toEqual(['Starting a worker.']);
    await eventually(() => (workerCalls > 0 ? true : undefined), 20_000, 'the worker at work');
    await terminate('t5');

    const next = await send('t5', 'are you there?', 't5-2');
    expect(next.body).toMatchObject({ status: 'completed', turn: 2 });
    // The new run tracks the worker the old one started.
    const listed = await h.request('GET', `${conv('t5')}/processes`);
    expect(listed.body.processes).toEqual([expect.objectContaining({ id: `${wfId('t5')}/worker/1`, state: 'running' })]);

    hold.open();
    const done = await eventually(async () => (await transcript('t5')).find((m) => m.direction === 'outbound' && m.text.startsWith('Done: ')), 30_000, 'the result turn');
    expect(done).toMatchObject({ text: 'Done: counted 42 sheep', turn: 3 });
    // The next worker does not take the id of the one the old run started.
    const again = await send('t5', 'count the sheep', 't5-3');
    expect((again.body.replies as Reply[]).map((r) => r.text)).toEqual(['Starting a worker.']);
    const processes = await h.request('GET', `${conv('t5')}/processes`);
    expect((processes.body.processes as { id: string }[]).map((p) => p.id)).toEqual([`${wfId('t5')}/worker/1`, `${wfId('t5')}/worker/2`]);
    await recordHistories(h.env, wfId('t5'), 'channel-recovery-running-worker');
  } finally {
    hold.open();
  }
}, 120_000);
