import { sql } from 'kysely';
import { createOpenAiEmbedder } from '../../lib/memory/embedder.js';
import { DEFAULT_IMPORTANCE, EmbeddingDimensionError, MEMORY_TYPES, MemoryInputError } from '../../lib/memory/model.js';
import { deleteMemory, edgesOf, getMemory, listMemories, saveMemory } from '../../lib/memory/store.js';
import { startFakeLlm } from '../fake-llm/server.js';
import { at, backends, createAgent, openTestDb, removeAgent, TableEmbedder, vec, type TestDb } from './db.js';

describe.each(backends)('memory store on $name', (backend) => {
  let t: TestDb;
  let agent: string;
  beforeAll(async () => {
    t = await openTestDb(backend);
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    agent = await createAgent(t.db, 'store');
  });
  afterEach(async () => {
    await removeAgent(t.db, agent);
  });

  it('saves every type with its default importance, and gets it back', async () => {
    for (const type of MEMORY_TYPES) {
      const { memory, status } = await saveMemory(t.db, null, agent, { content: `a ${type} memory`, type });
      expect(status).toBe('created');
      expect(memory.importance).toBeCloseTo(DEFAULT_IMPORTANCE[type], 6);
      expect(await getMemory(t.db, agent, memory.id)).toEqual(memory);
    }
    expect(DEFAULT_IMPORTANCE).toEqual({ fact: 0.6, preference: 0.7, decision: 0.8, identity: 1, event: 0.4, observation: 0.3, goal: 0.9, todo: 0.8, person: 0.85 });
  });

  it('rejects bad input naming the field', async () => {
    const cases: [Parameters<typeof saveMemory>[3], string][] = [
      [{ content: '  ', type: 'fact' }, 'content'],
      [{ content: 'x'.repeat(50 * 1024 + 1), type: 'fact' }, 'content'],
      [{ content: 'ok', type: 'rumour' as never }, 'type'],
      [{ content: 'ok', type: 'fact', importance: 1.5 }, 'importance'],
      [{ content: 'ok', type: 'fact', scope: { kind: 'user', id: '' } }, 'scope.id'],
      [{ content: 'ok', type: 'fact', associations: [{ id: '00000000-0000-4000-8000-000000000000', type: 'related_to' }] }, 'associations.0.id'],
      [{ content: 'ok', type: 'fact', associations: [{ id: 'nope', type: 'related_to' }] }, 'associations.0.id'],
    ];
    for (const [input, field] of cases) {
      const err = await saveMemory(t.db, null, agent, input).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MemoryInputError);
      expect((err as MemoryInputError).field).toBe(field);
    }
    // Exactly 50 KB is fine.
    await expect(saveMemory(t.db, null, agent, { content: 'x'.repeat(50 * 1024), type: 'fact' })).resolves.toMatchObject({ status: 'created' });
    await expect(saveMemory(t.db, null, 'no-such-agent', { content: 'ok', type: 'fact' })).rejects.toMatchObject({ field: 'agent' });
  });

  it('is idempotent by key: the same key twice returns the same memory and writes one row', async () => {
    const embedder = new TableEmbedder();
    const first = await saveMemory(t.db, embedder, agent, { content: 'The user lives in Lisbon', type: 'fact', idempotencyKey: 'turn-7:mem-0' });
    const again = await saveMemory(t.db, embedder, agent, { content: 'The user lives in Lisbon', type: 'fact', idempotencyKey: 'turn-7:mem-0' });
    expect(again.status).toBe('duplicate');
    expect(again.memory.id).toBe(first.memory.id);
    // Even with different content, the key decides (a retried save must not fork).
    const changed = await saveMemory(t.db, embedder, agent, { content: 'something else', type: 'event', idempotencyKey: 'turn-7:mem-0' });
    expect(changed.memory.id).toBe(first.memory.id);
    const rows = await t.db.selectFrom('memories').select('id').where('agent_id', '=', agent).execute();
    expect(rows).toHaveLength(1);
    // Keys are per agent.
    const other = await createAgent(t.db, 'store-other');
    try {
      const elsewhere = await saveMemory(t.db, null, other, { content: 'The user lives in Lisbon', type: 'fact', idempotencyKey: 'turn-7:mem-0' });
      expect(elsewhere.status).toBe('created');
      expect(elsewhere.memory.id).not.toBe(first.memory.id);
    } finally {
      await removeAgent(t.db, other);
    }
  });

  it('a near-duplicate save (cosine >= 0.95, same type and scope) supersedes the old memory with an updates edge', async () => {
    const embedder = new TableEmbedder({
      'I like green tea': vec({ 0: 1 }),
      'I really like green tea': at(0.97, 0, 1),
      'I like green tea a bit': at(0.9, 0, 2),
    });
    const old = await saveMemory(t.db, embedder, agent, { content: 'I like green tea', type: 'preference', importance: 0.75 });
    const upd = await saveMemory(t.db, embedder, agent, { content: 'I really like green tea', type: 'preference', importance: 0.5 });
    expect(upd.status).toBe('updated');
    expect(upd.supersedes).toBe(old.memory.id);
    expect(upd.memory.content).toBe('I really like green tea');
    expect(upd.memory.importance).toBeCloseTo(0.75, 6); // max(new, old)
    expect(await edgesOf(t.db, agent, upd.memory.id)).toEqual([expect.objectContaining({ fromId: upd.memory.id, toId: old.memory.id, type: 'updates', weight: 1 })]);

    // Below the threshold, another type, or another scope: a plain new memory.
    expect((await saveMemory(t.db, embedder, agent, { content: 'I like green tea a bit', type: 'preference' })).status).toBe('created');
    expect((await saveMemory(t.db, embedder, agent, { content: 'I like green tea', type: 'fact' })).status).toBe('created');
    expect((await saveMemory(t.db, embedder, agent, { content: 'I like green tea', type: 'preference', scope: { kind: 'user', id: 'u1' } })).status).toBe('created');
  });

  it('stores NULL (never zero) embeddings without an embedder', async () => {
    await saveMemory(t.db, null, agent, { content: 'no vector here', type: 'fact' });
    const { rows } = await sql<{ total: number; nulls: number }>`
      SELECT count(*)::int AS total, count(*) FILTER (WHERE embedding IS NULL)::int AS nulls FROM memories WHERE agent_id = ${agent}`.execute(t.db);
    expect(rows[0]).toEqual({ total: 1, nulls: 1 });
    const m = (await listMemories(t.db, agent)).memories[0];
    expect(m?.hasEmbedding).toBe(false);
  });

  it('refuses an embedder whose dimensions do not match vector(384)', async () => {
    const wrong = new TableEmbedder({}, 1536);
    await expect(saveMemory(t.db, wrong, agent, { content: 'x', type: 'fact' })).rejects.toThrow(EmbeddingDimensionError);
    await expect(saveMemory(t.db, wrong, agent, { content: 'x', type: 'fact' })).rejects.toThrow(/1536-dimension.*vector\(384\)/);
    expect(() => createOpenAiEmbedder({ baseURL: 'http://127.0.0.1:1/v1', apiKey: 'k', model: 'big', dimensions: 1536 })).toThrow(EmbeddingDimensionError);
  });

  it('the OpenAI-compatible embedder works against the fake /v1/embeddings', async () => {
    const fake = await startFakeLlm();
    try {
      const embedder = createOpenAiEmbedder({ baseURL: `${fake.url}/v1`, apiKey: 'test', model: 'text-embedding-3-small' });
      const saved = await saveMemory(t.db, embedder, agent, { content: 'Embedded through the SDK', type: 'fact' });
      expect(saved.memory.hasEmbedding).toBe(true);
      const [v] = await embedder.embed(['Embedded through the SDK']);
      expect(v).toHaveLength(384);
    } finally {
      await fake.close();
    }
  });

  it('links associations, lists with filters and pages, deletes (with its edges)', async () => {
    const a = await saveMemory(t.db, null, agent, { content: 'Project Apollo started', type: 'event' });
    const b = await saveMemory(t.db, null, agent, {
      content: 'Apollo milestone one',
      type: 'goal',
      scope: { kind: 'chat', id: 'c1' },
      associations: [{ id: a.memory.id, type: 'part_of', weight: 0.5 }],
    });
    expect(await edgesOf(t.db, agent, a.memory.id)).toEqual([expect.objectContaining({ fromId: b.memory.id, toId: a.memory.id, type: 'part_of', weight: 0.5 })]);
    for (let i = 0; i < 5; i++) await saveMemory(t.db, null, agent, { content: `note ${i}`, type: 'observation' });

    expect((await listMemories(t.db, agent, { type: 'goal' })).memories.map((m) => m.id)).toEqual([b.memory.id]);
    expect((await listMemories(t.db, agent, { scope: { kind: 'chat', id: 'c1' } })).memories.map((m) => m.id)).toEqual([b.memory.id]);
    expect((await listMemories(t.db, agent, { scope: { kind: 'agent' } })).memories).toHaveLength(6);

    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await listMemories(t.db, agent, { limit: 3, cursor });
      seen.push(...page.memories.map((m) => m.id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    await expect(listMemories(t.db, agent, { cursor: 'garbage' })).rejects.toMatchObject({ field: 'cursor' });

    expect(await deleteMemory(t.db, agent, a.memory.id)).toBe(true);
    expect(await deleteMemory(t.db, agent, a.memory.id)).toBe(false);
    expect(await getMemory(t.db, agent, a.memory.id)).toBeNull();
    expect(await edgesOf(t.db, agent, b.memory.id)).toEqual([]);
    expect(await edgesOf(t.db, agent, a.memory.id)).toBeNull();
  });

  it('never reads or deletes another agent’s memory', async () => {
    const other = await createAgent(t.db, 'store-other');
    try {
      const theirs = await saveMemory(t.db, null, other, { content: 'secret of the other agent', type: 'fact' });
      expect(await getMemory(t.db, agent, theirs.memory.id)).toBeNull();
      expect(await deleteMemory(t.db, agent, theirs.memory.id)).toBe(false);
      expect(await edgesOf(t.db, agent, theirs.memory.id)).toBeNull();
      await expect(
        saveMemory(t.db, null, agent, { content: 'x', type: 'fact', associations: [{ id: theirs.memory.id, type: 'related_to' }] }),
      ).rejects.toMatchObject({ field: 'associations.0.id' });
      expect((await listMemories(t.db, agent)).memories).toEqual([]);
    } finally {
      await removeAgent(t.db, other);
    }
  });
});
