import { createHarness, type Harness } from '../helpers/harness.js';
import { answered, busiestWorker, echoScript, identityOf, sendToEach, stickyWorkerOf, warm } from '../helpers/failover.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';

/**
 * The API and two worker processes on one Temporal server: after kill -9 of the worker holding most
 * conversations in its cache, a message to every conversation is answered. Each waits at most
 * ANSWER_WITHIN_MS: less than the 10 s a workflow task used to wait on the dead worker's sticky queue
 * (the SDK's default), more than the `[worker] sticky_queue_timeout_ms` (1 s) it waits now. How fast
 * failover is, is measured by `npm run bench:failover`.
 */
const CONVERSATIONS = Array.from({ length: 10 }, (_, i) => `failover-${i}`);
const ANSWER_WITHIN_MS = 9000;

let h: Harness;
const workers: WorkerProcess[] = [];
beforeAll(async () => {
  h = await createHarness({ noWorker: true });
  h.fake.script(echoScript);
}, 300_000);
afterAll(async () => {
  for (const w of workers) await w.kill();
  await h?.close();
});

/**
 * Only against a real PostgreSQL (TEST_DATABASE_URL): on the harness's PGlite the statements of the
 * three processes' connections interleave in its socket server, and answers then take 30 s or fail
 * with or without a kill (bench:failover shows it in its baseline rounds), which this bound cannot tell
 * from a slow failover.
 */
const onRealPostgres = process.env.TEST_DATABASE_URL ? test : test.skip;

onRealPostgres('after kill -9 of one of two worker processes, new messages on every conversation are answered', async () => {
  workers.push(startWorkerProcess(h), startWorkerProcess(h));
  await Promise.all(workers.map((w) => w.ready));

  // Warm: every conversation has a run cached on one of the workers.
  for (const round of [1, 2]) expect(await warm(h, CONVERSATIONS, `warm-${round}`)).toEqual([]);
  const { worker: victim, sticky } = await busiestWorker(h, workers, CONVERSATIONS);
  expect(sticky.length).toBeGreaterThan(0);
  await victim.kill();
  const survivor = workers.find((w) => w !== victim)!;

  const after = await sendToEach(h, CONVERSATIONS, 'after-the-crash', ANSWER_WITHIN_MS);
  expect(after.filter((a) => !answered(a))).toEqual([]);
  // The conversations the dead worker had cached now run on the survivor.
  for (const c of sticky) expect(await stickyWorkerOf(h, c)).toMatch(new RegExp(`^${identityOf(survivor)}`));
}, 400_000);
