import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { sha256Hex } from '../../lib/ingest/chunk.js';
import { ingestDirs } from '../../lib/ingest/files.js';
import { IngestWatcher } from '../../lib/ingest/watcher.js';
import { createLogger } from '../../lib/logger.js';
import { finishedIngestion, type Ingestion } from '../ingest/status.js';
import { createHarness, TEST_TOKEN, type Harness } from '../helpers/harness.js';
import { makePdf } from '../ingest/pdf.js';
import { formBomb } from '../ingest/pdf-bomb.js';
import { documentPart, documentWith, extractionScript } from '../ingest/script.js';

/**
 * Issue "Safe by default (2/2)", finding 7: ingestion amplification. A few kilobytes of PDF expanded to
 * hundreds of chunks (one LLM call each) and millions of characters, parsed on the server's event loop
 * while /health waited. Each cap of `[ingest]` is driven through the public API (upload, folder) and
 * asserted on the ingestion's status, the chunks stored and the model calls made.
 */
let h: Harness;
beforeAll(async () => {
  h = await createHarness({
    toml: ['[ingest]', 'max_file_bytes = 65536', 'max_pages = 5', 'max_chunks_per_file = 3', 'max_chunks_per_day = 5', 'extract_timeout_seconds = 60'].join('\n'),
  });
  h.fake.script(extractionScript);
});
afterAll(async () => {
  await h?.close();
});

const finished = (id: string) => finishedIngestion(h, id, 90_000);

const extractionCalls = () => h.fake.requests.filter((r) => r.neutral && documentPart(r.neutral) !== undefined).length;
const storedChunks = async (id: string) =>
  (await h.database.db.selectFrom('ingest_file_chunks').select('seq').where('agent_id', '=', 'main').where('file_sha256', '=', id).execute()).length;

async function upload(filename: string, bytes: Buffer): Promise<{ status: number; id: string; body: Record<string, unknown> }> {
  const res = await fetch(`${h.baseUrl}/v1/agents/main/ingest`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/octet-stream', 'x-filename': filename },
    body: bytes,
  });
  return { status: res.status, id: sha256Hex(bytes), body: (await res.json()) as Record<string, unknown> };
}

test('a PDF form bomb is refused as a bomb, off the event loop: /health keeps answering while it is parsed', async () => {
  // 1.7 KB that expands to ~930,000 characters: in the old code 233 chunks, 233 LLM calls, and seconds
  // of a blocked event loop.
  const bomb = formBomb(4, 10);
  expect(bomb.length).toBeLessThan(4096);
  const calls = extractionCalls();
  const res = await upload('bomb.pdf', bomb);
  expect(res.status).toBe(202);

  const latencies: number[] = [];
  let done: Ingestion | undefined;
  while (!done) {
    const started = performance.now();
    const health = await fetch(`${h.baseUrl}/health`);
    latencies.push(performance.now() - started);
    expect(health.status).toBeLessThan(500);
    const ing = (await h.request('GET', `/v1/agents/main/ingest/${res.id}`)).body.ingestion as Ingestion;
    if (ing.status === 'done' || ing.status === 'failed') done = ing;
    else await new Promise((r) => setTimeout(r, 50));
  }
  expect(done.status).toBe('failed');
  expect(done.error).toMatch(/expand to [\d,]+ characters .*max_expansion_ratio.*decompression bomb/);
  expect(await storedChunks(res.id)).toBe(0);
  expect(extractionCalls()).toBe(calls);
  // Parsed in a child process: the server's loop stayed free (the old in-process parse held it for seconds).
  latencies.sort((a, b) => a - b);
  expect(latencies.length).toBeGreaterThan(3);
  expect(latencies[Math.floor(latencies.length / 2)]).toBeLessThan(100);
  expect(latencies[latencies.length - 1]).toBeLessThan(1000);
}, 120_000);

test('a PDF with more pages than max_pages is refused before any page is read', async () => {
  const pdf = makePdf(Array.from({ length: 6 }, (_, i) => [`FACT: page ${i} of the long report.`]));
  const calls = extractionCalls();
  const res = await upload('long.pdf', pdf);
  expect(res.status).toBe(202);
  const done = await finished(res.id);
  expect(done).toMatchObject({ status: 'failed', chunksTotal: null });
  expect(done.error).toContain('the PDF has 6 pages; ingestion reads at most 5 ([ingest] max_pages)');
  expect(await storedChunks(res.id)).toBe(0);
  expect(extractionCalls()).toBe(calls);
});

test('a document of more chunks than max_chunks_per_file is refused whole, nothing half-ingested', async () => {
  const text = documentWith(4, 'toolong');
  const calls = extractionCalls();
  const res = await h.request('POST', '/v1/agents/main/ingest', { filename: 'toolong.md', content: text });
  expect(res.status).toBe(202);
  const done = await finished(sha256Hex(Buffer.from(text)));
  expect(done.status).toBe('failed');
  expect(done.error).toContain('the text makes 4 chunks; ingestion takes at most 3 per file ([ingest] max_chunks_per_file)');
  expect(await storedChunks(sha256Hex(Buffer.from(text)))).toBe(0);
  expect(extractionCalls()).toBe(calls);
});

test('the per-agent daily chunk cap refuses the file that would pass it, and counts the model calls that ran', async () => {
  // 5 a day: the bomb and the refused files above stored no chunks, so the day starts here.
  const first = documentWith(3, 'daily-one');
  expect((await h.request('POST', '/v1/agents/main/ingest', { filename: 'one.md', content: first })).status).toBe(202);
  expect(await finished(sha256Hex(Buffer.from(first)))).toMatchObject({ status: 'done', chunksTotal: 3 });

  const second = documentWith(3, 'daily-two');
  const calls = extractionCalls();
  expect((await h.request('POST', '/v1/agents/main/ingest', { filename: 'two.md', content: second })).status).toBe(202);
  const done = await finished(sha256Hex(Buffer.from(second)));
  expect(done.status).toBe('failed');
  expect(done.error).toContain('has prepared 3 chunks today and this file adds 3: more than 5 a day ([ingest] max_chunks_per_day)');
  expect(extractionCalls()).toBe(calls);
});

test('an upload over max_file_bytes gets 413 naming the limit; nothing is recorded', async () => {
  const big = Buffer.from('x'.repeat(70_000));
  const res = await upload('big.txt', big);
  expect(res.status).toBe(413);
  expect(res.body).toMatchObject({ error: 'payload_too_large', field: 'content' });
  expect(String(res.body.message)).toContain('ingestion takes at most 0.1 MB ([ingest] max_file_bytes)');
  expect((await h.request('GET', `/v1/agents/main/ingest/${res.id}`)).status).toBe(404);
});

test('a dropped file over max_file_bytes is never read: recorded as failed with the reason and moved to failed/', async () => {
  const agent = h.config.agents[0];
  if (!agent) throw new Error('no agent');
  const dirs = ingestDirs(agent);
  mkdirSync(dirs.inbox, { recursive: true });
  const content = 'y'.repeat(70_000);
  writeFileSync(path.join(dirs.inbox, 'huge.txt'), content);
  const watcher = new IngestWatcher({ config: h.config, db: h.database.db, client: h.env.client, logger: createLogger('test', 'silent') });
  expect(await watcher.pollOnce()).toEqual([]); // first sighting: waits for the file to be stable
  expect(await watcher.pollOnce()).toEqual([path.join(dirs.inbox, 'huge.txt')]);
  expect(existsSync(path.join(dirs.failed, 'huge.txt'))).toBe(true);
  const res = await h.request('GET', `/v1/agents/main/ingest/${sha256Hex(Buffer.from(content))}`);
  expect(res.body.ingestion).toMatchObject({ status: 'failed', filename: 'huge.txt', source: 'folder' });
  expect(String((res.body.ingestion as Ingestion).error)).toContain('ingestion takes at most 0.1 MB ([ingest] max_file_bytes)');
});
