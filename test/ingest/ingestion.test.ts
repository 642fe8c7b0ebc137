import { mkdirSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { ingestDirs } from '../../lib/ingest/files.js';
import { IngestWatcher } from '../../lib/ingest/watcher.js';
import { createLogger } from '../../lib/logger.js';
import { ingestionProgressQuery, ingestionWorkflowId } from '../../workflows/ingestion-contract.js';
import { sha256Hex } from '../../lib/ingest/chunk.js';
import { finishedIngestion, type Ingestion } from './status.js';
import { createHarness, eventually, TEST_TOKEN, type Harness } from '../helpers/harness.js';
import { recordHistories } from '../helpers/histories.js';
import { makePdf } from './pdf.js';
import { documentPart, documentWith, extractionScript } from './script.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
  h.fake.script(extractionScript);
});
afterAll(async () => {
  await h?.close();
});

const finished = (id: string) => finishedIngestion(h, id);

const memoriesFrom = (workflowId: string) =>
  h.database.db.selectFrom('memories').select(['content', 'type', 'scope_kind', 'source_message']).where('agent_id', '=', 'main').where('source_channel', '=', workflowId).orderBy('content').execute();

const extractionCalls = () => h.fake.requests.filter((r) => r.neutral && documentPart(r.neutral) !== undefined).length;

test('an uploaded Markdown file becomes memories, chunk by chunk, with progress, costs and a history', async () => {
  const text = documentWith(3, 'alpha');
  const res = await h.request('POST', '/v1/agents/main/ingest', { filename: 'alpha.md', content: text });
  expect(res.status).toBe(202);
  const id = sha256Hex(Buffer.from(text));
  expect(res.body).toMatchObject({ workflowId: ingestionWorkflowId('main', id), duplicate: false, ingestion: { id, filename: 'alpha.md', source: 'upload' } });

  const done = await finished(id);
  expect(done).toMatchObject({ status: 'done', chunksTotal: 3, chunksDone: 3, chunksSkipped: 0, memoriesSaved: 3, error: null });
  const memories = await memoriesFrom(done.workflowId);
  expect(memories.map((m) => m.content)).toEqual(['alpha part 0 says the number is 0.', 'alpha part 1 says the number is 7.', 'alpha part 2 says the number is 14.']);
  for (const m of memories) expect(m).toMatchObject({ type: 'fact', scope_kind: 'agent' });

  // Each chunk: one call that saves, one that sees the results; both in the ledger as cortex calls.
  const ledger = await h.database.db.selectFrom('llm_calls').select(['process', 'channel_id']).where('channel_id', '=', done.workflowId).execute();
  expect(ledger).toHaveLength(6);
  for (const row of ledger) expect(row.process).toBe('cortex');

  // The workflow's own progress and the upload's bytes, gone once done.
  const handle = h.env.client.workflow.getHandle(done.workflowId);
  expect(await handle.query(ingestionProgressQuery)).toMatchObject({ phase: 'done', chunksTotal: 3, chunksDone: 3, memoriesSaved: 3 });
  const desc = await handle.describe();
  expect(desc.status.name).toBe('COMPLETED');
  expect(await desc.staticSummary()).toBe('Ingest alpha.md (upload) into the memories of agent main');
  const meta = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
  expect(meta.currentDetails).toContain('done: 3/3 chunks (0 already ingested), 3 memories saved');
  const stored = await h.database.db.selectFrom('ingest_files').select('content').where('file_sha256', '=', id).executeTakeFirstOrThrow();
  expect(stored.content).toBeNull();

  const list = await h.request('GET', '/v1/agents/main/ingest');
  expect((list.body.ingestions as Ingestion[]).map((i) => i.id)).toContain(id);
  await recordHistories(h.env, done.workflowId, 'ingestion-markdown');
});

test('re-ingesting the same bytes is a no-op, and chunks seen before are skipped in a new file', async () => {
  const text = documentWith(3, 'alpha');
  const calls = extractionCalls();
  const again = await h.request('POST', '/v1/agents/main/ingest', { filename: 'alpha-copy.md', content: text });
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ duplicate: true, ingestion: { status: 'done', filename: 'alpha.md' } });
  expect(extractionCalls()).toBe(calls);

  // Same three parts plus two new ones: only the new ones reach the model.
  const longer = documentWith(5, 'alpha');
  const res = await h.request('POST', '/v1/agents/main/ingest', { filename: 'alpha-v2.md', content: longer }, {});
  expect(res.status).toBe(202);
  const done = await finished(sha256Hex(Buffer.from(longer)));
  expect(done).toMatchObject({ status: 'done', chunksTotal: 5, chunksDone: 5, chunksSkipped: 3, memoriesSaved: 2 });
  expect(extractionCalls()).toBe(calls + 4);
  const all = await h.database.db.selectFrom('memories').select('content').where('agent_id', '=', 'main').where('content', 'like', 'alpha part %').execute();
  expect(all).toHaveLength(5);
});

test('a PDF sent as raw bytes is read page by page', async () => {
  const pdf = makePdf([['FACT: the launch is on 3 March.', 'Some other text.'], ['FACT: Bob signs the contract.']]);
  const res = await fetch(`${h.baseUrl}/v1/agents/main/ingest`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/pdf', 'x-filename': 'launch.pdf' },
    body: pdf,
  });
  expect(res.status).toBe(202);
  const done = await finished(sha256Hex(pdf));
  expect(done).toMatchObject({ status: 'done', chunksTotal: 1, memoriesSaved: 2 });
  expect((await memoriesFrom(done.workflowId)).map((m) => m.content)).toEqual(['Bob signs the contract.', 'the launch is on 3 March.']);
});

test('an unreadable file fails the ingestion with the reason, and may be sent again at once', async () => {
  const broken = Buffer.from('%PDF-1.4 this is not really a pdf');
  const res = await h.request('POST', '/v1/agents/main/ingest', { filename: 'broken.pdf', content: broken.toString('base64') });
  expect(res.status).toBe(202);
  const failed = await finished(sha256Hex(broken));
  expect(failed.status).toBe('failed');
  expect(failed.error).toMatch(/cannot read the PDF/);
  // Sent again as soon as the API says "failed" (its run may still be closing): a new run starts.
  const retry = await h.request('POST', '/v1/agents/main/ingest', { filename: 'broken.pdf', content: broken.toString('base64') });
  expect(retry.status).toBe(202);
  expect(retry.body).toMatchObject({ ingestion: { status: 'queued' } });
  expect((await finished(sha256Hex(broken))).status).toBe('failed');
  const handle = h.env.client.workflow.getHandle(failed.workflowId);
  const err = (await handle.result().catch((e: unknown) => e)) as { cause?: { message?: string } };
  expect(err.cause?.message).toMatch(/ingestion of broken.pdf failed: cannot read the PDF/);
  // Two runs, both failed (visibility may trail the runs by a moment).
  await eventually(async () => {
    const runs: string[] = [];
    for await (const run of h.env.client.workflow.list({ query: `WorkflowId = '${failed.workflowId}'` })) runs.push(run.status.name);
    return runs.length === 2 && runs.every((r) => r === 'FAILED') ? true : undefined;
  }, 10_000, 'two failed runs in visibility');
  await recordHistories(h.env, failed.workflowId, 'ingestion-unreadable');
});

test('bad uploads are refused with the field, and bodies over the limit get 413', async () => {
  const cases: [unknown, string][] = [
    [{ filename: 'x.exe', content: 'hi' }, 'filename'],
    [{ filename: '../etc/passwd.md', content: 'hi' }, 'filename'],
    [{ filename: 'a.md', content: '' }, 'content'],
    [{ filename: 'a.md', content: 'hi', extra: 1 }, ''],
    [{ filename: 'a.pdf', content: 'not base64 !!' }, 'content'],
  ];
  for (const [body, field] of cases) {
    const res = await h.request('POST', '/v1/agents/main/ingest', body);
    expect(res.status).toBe(400);
    if (field) expect(res.body.field).toBe(field);
  }
  const raw = await fetch(`${h.baseUrl}/v1/agents/main/ingest`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/octet-stream' },
    body: Buffer.from('hello'),
  });
  expect(raw.status).toBe(400);
  expect(((await raw.json()) as { message: string }).message).toContain('x-filename');
  const big = await h.request('POST', '/v1/agents/main/ingest', { filename: 'big.md', content: 'x'.repeat(h.config.server.bodyLimitBytes) });
  expect(big.status).toBe(413);
  expect(big.body.message).toContain(`larger than ${h.config.server.bodyLimitBytes} bytes`);
  expect((await h.request('POST', '/v1/agents/nobody/ingest', { filename: 'a.md', content: 'x' })).status).toBe(404);
  expect((await h.request('GET', `/v1/agents/main/ingest/${'0'.repeat(64)}`)).status).toBe(404);
});

test('a file dropped into <workspace>/ingest/ is ingested once stable and moved to ingest/done/', async () => {
  const agent = h.config.agents[0];
  if (!agent) throw new Error('no agent');
  const dirs = ingestDirs(agent);
  mkdirSync(dirs.inbox, { recursive: true });
  const text = documentWith(2, 'dropped');
  writeFileSync(path.join(dirs.inbox, 'notes.md'), text);
  writeFileSync(path.join(dirs.inbox, 'image.png'), 'not a document');
  const watcher = new IngestWatcher({ config: h.config, db: h.database.db, client: h.env.client, logger: createLogger('test', 'silent') });
  // First poll sees the file; a file still being written (changed since) waits another poll.
  expect(await watcher.pollOnce()).toEqual([]);
  writeFileSync(path.join(dirs.inbox, 'notes.md'), `${text}\n`);
  expect(await watcher.pollOnce()).toEqual([]);
  writeFileSync(path.join(dirs.inbox, 'notes.md'), text);
  expect(await watcher.pollOnce()).toEqual([]);
  // Unchanged since the last poll: stable, so its workflow starts.
  expect(await watcher.pollOnce()).toEqual([path.join(dirs.inbox, 'notes.md')]);
  expect(await watcher.pollOnce()).toEqual([]);
  const done = await finished(sha256Hex(Buffer.from(text)));
  expect(done).toMatchObject({ status: 'done', chunksTotal: 2, memoriesSaved: 2, filename: 'notes.md' });
  await eventually(async () => (existsSync(path.join(dirs.done, 'notes.md')) ? true : undefined), 10_000, 'the file in done/');
  expect(readdirSync(dirs.inbox).sort()).toEqual(['done', 'image.png']);

  // The same bytes dropped again are moved to done/ without another ingestion.
  writeFileSync(path.join(dirs.inbox, 'notes-again.md'), text);
  const calls = extractionCalls();
  await watcher.pollOnce();
  await watcher.pollOnce();
  expect(readdirSync(dirs.done).sort()).toEqual(['notes-again.md', 'notes.md']);
  expect(extractionCalls()).toBe(calls);
});

test("an agent at its budget cap makes no extraction calls: the ingestion fails with the budget's reason", async () => {
  const capped = await createHarness({ env: h.env, toml: '[budgets]\ndaily_usd = 1.0\n' });
  try {
    capped.fake.script(extractionScript);
    await capped.database.db
      .insertInto('llm_calls')
      .values({ call_key: 'spent', agent_id: 'main', channel_id: null, process: 'channel', provider: 'anthropic', model: 'claude-haiku-5-5', input_tokens: 1, output_tokens: 1, cache_read_tokens: 0, cache_write_tokens: 0, latency_ms: 1, stop_reason: 'end_turn', cost_usd: 2 })
      .execute();
    const text = documentWith(1, 'budget');
    const res = await capped.request('POST', '/v1/agents/main/ingest', { filename: 'budget.md', content: text });
    expect(res.status).toBe(202);
    const failed = await eventually(
      async () => {
        const r = await capped.request('GET', `/v1/agents/main/ingest/${sha256Hex(Buffer.from(text))}`);
        const ing = r.body.ingestion as Ingestion | undefined;
        return ing?.status === 'failed' ? ing : undefined;
      },
      60_000,
      'the capped ingestion to fail',
    );
    expect(failed.error).toMatch(/daily spending limit of \$1\.00/);
    expect(capped.fake.requests).toHaveLength(0);
  } finally {
    await capped.close();
  }
});
