import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { recordHistories } from '../helpers/histories.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';

let h: Harness;
const workers: WorkerProcess[] = [];
beforeAll(async () => {
  h = await createHarness({ noWorker: true });
});
afterAll(async () => {
  for (const w of workers) await w.kill();
  await h?.close();
});

test('a worker killed in the middle of a turn is replaced and the turn finishes with exactly one reply', async () => {
  let calls = 0;
  h.fake.script(() => {
    calls++;
    // The first call hangs long enough for the worker to die under it; the retry answers at once.
    return calls === 1 ? { text: 'never delivered', delayMs: 30_000 } : { toolCalls: [{ name: 'reply', input: { text: 'survived the crash' } }] };
  });
  const first = startWorkerProcess(h);
  workers.push(first);
  await first.ready;

  const posted = h.request('POST', '/v1/agents/main/conversations/crash/messages', { text: 'are you there?', wait: 90_000 });
  await eventually(async () => (h.fake.requests.length === 1 ? true : undefined), 30_000, 'the first LLM call');
  await first.kill();

  const second = startWorkerProcess(h);
  workers.push(second);
  await second.ready;

  const res = await posted;
  expect(res.status).toBe(200);
  expect((res.body.replies as { text: string }[]).map((r) => r.text)).toEqual(['survived the crash']);
  const outbound = await h.database.db
    .selectFrom('messages')
    .select('text')
    .where('channel_id', '=', 'channel:main:webhook:crash')
    .where('direction', '=', 'outbound')
    .execute();
  expect(outbound).toEqual([{ text: 'survived the crash' }]);
  expect(calls).toBe(2);
  await recordHistories(h.env, 'channel:main:webhook:crash', 'worker-crash');
}, 120_000);
