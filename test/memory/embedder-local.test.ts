import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import vm from 'node:vm';
import { EmbeddingDimensionError } from '../../lib/memory/model.js';
import { createLocalEmbedder, EmbedderUnavailableError, type LocalEmbedder } from '../../lib/memory/embedders/local.js';
import { selectEmbedder } from '../../lib/memory/embedders/select.js';
import { recall } from '../../lib/memory/recall.js';
import { saveMemory } from '../../lib/memory/store.js';
import { backends, cosine, createAgent, openTestDb, removeAgent, type TestDb } from './db.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const TINY = path.join(ROOT, 'test/fixtures/tiny-embedder');

// Jest runs this file in a vm context with its own typed-array classes, while ONNX Runtime's native
// addon returns the main realm's Float32Array and onnxruntime-common checks results with
// `instanceof`. Outside jest there is one realm; here the main realm's class is installed before the
// library is (dynamically) imported.
globalThis.Float32Array = vm.runInThisContext('Float32Array') as Float32ArrayConstructor;

let embedder: LocalEmbedder;
beforeAll(async () => {
  // allowDownload is off: any attempt to reach the hub fails the test.
  embedder = await createLocalEmbedder({ path: TINY, allowDownload: false });
});

test('the local embedder loads the committed tiny model offline and gives 384-d unit vectors, related texts closer', async () => {
  const [cat, pets, code, rain] = await embedder.embed(['My cat likes the dog', 'a kitten and a puppy', 'Python code has a bug', 'rain and storm today']);
  for (const v of [cat, pets, code, rain]) {
    expect(v).toHaveLength(384);
    expect(Math.hypot(...(v ?? []))).toBeCloseTo(1, 5);
  }
  const a = cat ?? [];
  expect(cosine(a, pets ?? [])).toBeGreaterThan(0.8);
  expect(cosine(a, code ?? [])).toBeLessThan(0.3);
  expect(cosine(a, rain ?? [])).toBeLessThan(0.3);
  // Deterministic, and batching does not change a text's vector.
  const [again] = await embedder.embed(['My cat likes the dog']);
  expect(again?.map((x) => Math.round(x * 1e6))).toEqual(cat?.map((x) => Math.round(x * 1e6)));
});

test('the committed fixture is what scripts/make-tiny-embedder.ts writes', async () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'tiny-embedder-'));
  try {
    await promisify(execFile)(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'scripts/make-tiny-embedder.ts'), out], { cwd: ROOT });
    const files = (dir: string): string[] => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => path.relative(dir, path.join(d.parentPath, d.name))).sort();
    expect(files(out)).toEqual(files(TINY));
    for (const f of files(TINY)) expect(readFileSync(path.join(out, f)).equals(readFileSync(path.join(TINY, f)))).toBe(true);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a missing model or a wrong dimension is refused with the cause and the fix', async () => {
  await expect(createLocalEmbedder({ path: path.join(os.tmpdir(), 'no-such-model') })).rejects.toThrow(EmbedderUnavailableError);
  await expect(createLocalEmbedder({ path: TINY, dimensions: 512 })).rejects.toThrow(EmbeddingDimensionError);
  const cache = mkdtempSync(path.join(os.tmpdir(), 'models-'));
  try {
    await expect(createLocalEmbedder({ model: 'Xenova/all-MiniLM-L6-v2', cacheDir: cache, allowDownload: false })).rejects.toThrow(/allow_download = true/);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test('selectEmbedder probes once: a working model is used, a broken one gives null and exactly one warning', async () => {
  const warnings: string[] = [];
  const logger = { info: () => undefined, warn: (_o: unknown, msg: string) => warnings.push(msg) } as never;
  const ok = await selectEmbedder({ kind: 'local', model: 'x', path: TINY, allowDownload: false, cacheDir: os.tmpdir(), dimensions: 384 }, logger);
  expect(ok.embedder?.dimensions).toBe(384);
  expect(warnings).toEqual([]);
  const broken = await selectEmbedder({ kind: 'local', model: 'x', path: path.join(os.tmpdir(), 'missing-model'), allowDownload: false, cacheDir: os.tmpdir(), dimensions: 384 }, logger);
  expect(broken.embedder).toBeNull();
  expect(broken.problem).toContain('missing-model');
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(/full text and the memory graph only.*Fix: point \[memory\] path/);
  const none = await selectEmbedder({ kind: 'none' }, logger);
  expect(none.embedder).toBeNull();
  expect(warnings).toHaveLength(1);
});

describe.each(backends)('recall with the local embedder on $name', (backend) => {
  let t: TestDb;
  let agent: string;
  beforeAll(async () => {
    t = await openTestDb(backend);
    agent = await createAgent(t.db, 'local-emb');
  });
  afterAll(async () => {
    if (t) await removeAgent(t.db, agent);
    await t?.close();
  });

  it('finds a memory by meaning with no word in common, and falls back to text without an embedder', async () => {
    const pet = await saveMemory(t.db, embedder, agent, { content: 'The dog barks at the vet', type: 'fact' });
    await saveMemory(t.db, embedder, agent, { content: 'Deploy the typescript server', type: 'todo' });
    await saveMemory(t.db, embedder, agent, { content: 'Pasta with cheese for dinner', type: 'preference' });
    expect(pet.memory.hasEmbedding).toBe(true);
    const hybrid = await recall(t.db, embedder, agent, { query: 'kitten fur', limit: 3 });
    expect(hybrid.signalsUsed).toContain('vector');
    expect(hybrid.results[0]?.memory.id).toBe(pet.memory.id);
    expect(hybrid.results[0]?.signals.text).toBeUndefined();
    const textOnly = await recall(t.db, null, agent, { query: 'kitten fur' });
    expect(textOnly.signalsUsed).toEqual(['text', 'graph']);
    expect(textOnly.results).toEqual([]);
    expect((await recall(t.db, null, agent, { query: 'dog' })).results[0]?.memory.id).toBe(pet.memory.id);
  });
});
