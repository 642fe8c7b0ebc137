import { sha256Hex } from '../../lib/ingest/chunk.js';
import { ingestionProgressQuery } from '../../workflows/ingestion-contract.js';
import type { NeutralRequest } from '../fake-llm/server.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { documentPart, documentWith, extractionScript } from './script.js';

let h: Harness;
const workers: WorkerProcess[] = [];
beforeAll(async () => {
  h = await createHarness({ noWorker: true });
});
afterAll(async () => {
  for (const w of workers) await w.kill();
  await h?.close();
});

const partOf = (req: NeutralRequest) => /FACT: crash part (\d+) /.exec(documentPart(req) ?? '')?.[1];

test('an ingestion whose worker is killed mid-chunk resumes at that chunk and saves nothing twice', async () => {
  let hung = false;
  h.fake.script((req) => {
    // Part 2's memory is saved, then the worker dies while the model looks at the save's result.
    const last = req.messages[req.messages.length - 1];
    if (partOf(req) === '2' && last?.role === 'tool' && !hung) {
      hung = true;
      return { text: 'never seen', delayMs: 60_000 };
    }
    return extractionScript(req);
  });
  const first = startWorkerProcess(h);
  workers.push(first);
  await first.ready;

  const text = documentWith(4, 'crash');
  const id = sha256Hex(Buffer.from(text));
  const res = await h.request('POST', '/v1/agents/main/ingest', { filename: 'crash.md', content: text });
  expect(res.status).toBe(202);
  await eventually(async () => (hung ? true : undefined), 60_000, 'the hanging LLM call of part 2');
  // Progress while it hangs: two chunks done, visible through the API (from the workflow itself).
  const during = await h.request('GET', `/v1/agents/main/ingest/${id}`);
  expect(during.body).toMatchObject({ ingestion: { status: 'running', chunksTotal: 4, chunksDone: 2 }, progress: { phase: 'extracting', chunksTotal: 4, chunksDone: 2 } });
  await first.kill();

  const second = startWorkerProcess(h);
  workers.push(second);
  await second.ready;

  const done = await eventually(
    async () => {
      const r = await h.request('GET', `/v1/agents/main/ingest/${id}`);
      const ing = r.body.ingestion as { status: string } | undefined;
      return ing?.status === 'done' ? ing : undefined;
    },
    90_000,
    'the ingestion to finish on the second worker',
  );
  expect(done).toMatchObject({ chunksTotal: 4, chunksDone: 4, chunksSkipped: 0, memoriesSaved: 4 });

  // Parts 0 and 1 were read once; part 2 twice (the retry); nothing was saved twice.
  const savingCalls = h.fake.requests.filter((r) => r.neutral && r.neutral.messages.length === 1 && partOf(r.neutral) !== undefined).map((r) => partOf(r.neutral as NeutralRequest));
  expect(savingCalls.sort()).toEqual(['0', '1', '2', '2', '3']);
  const memories = await h.database.db.selectFrom('memories').select('content').where('agent_id', '=', 'main').where('content', 'like', 'crash part %').orderBy('content').execute();
  expect(memories.map((m) => m.content)).toEqual([0, 1, 2, 3].map((i) => `crash part ${i} says the number is ${i * 7}.`));

  const handle = h.env.client.workflow.getHandle(`ingest:main:${id}`);
  expect(await handle.query(ingestionProgressQuery)).toMatchObject({ phase: 'done', chunksDone: 4, memoriesSaved: 4 });
  const history = await handle.fetchHistory();
  const scheduled = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'ingestChunk');
  // One activity per chunk: the retry of part 2 is an attempt of the same activity, not a new one.
  expect(scheduled).toHaveLength(4);
}, 240_000);
