import { sql } from 'kysely';
import { linkMemories, saveMemory } from '../../lib/memory/store.js';
import { reciprocalRankFusion, recall, textQuery } from '../../lib/memory/recall.js';
import { at, backends, createAgent, openTestDb, removeAgent, TableEmbedder, vec, type TestDb } from './db.js';

test('reciprocal rank fusion sums 1 / (k + rank)', () => {
  const fused = reciprocalRankFusion([['a', 'b'], ['b', 'c']], 60);
  expect(fused.get('a')).toBeCloseTo(1 / 61);
  expect(fused.get('b')).toBeCloseTo(1 / 62 + 1 / 61);
  expect(fused.get('c')).toBeCloseTo(1 / 62);
  expect(reciprocalRankFusion([['a'], [['b', 0.5]]], 60).get('b')).toBeCloseTo(0.5 / 61);
  expect(textQuery('Orchid: watering OR schedule!')).toBe('orchid or watering or schedule');
  expect(textQuery('  ?! ')).toBeNull();
});

describe.each(backends)('hybrid recall on $name', (backend) => {
  let t: TestDb;
  let agent: string;
  beforeAll(async () => {
    t = await openTestDb(backend);
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    agent = await createAgent(t.db, 'recall');
  });
  afterEach(async () => {
    await removeAgent(t.db, agent);
  });

  const QUERY = 'orchid watering schedule';

  /** V: best by vector only; F: best by text only; T: second in both, so first after fusion. */
  async function craftedSet() {
    const embedder = new TableEmbedder({
      [QUERY]: vec({ 0: 1 }),
      'Vintage cars parked outside': vec({ 0: 1, 9: 0.05 }),
      'The orchid needs watering on mondays': at(0.8, 0, 1),
      'Orchid watering schedule: orchid watering schedule, every week': vec({ 5: 1 }),
      'Blue paint for the fence': at(0.5, 0, 2),
      'The dentist moved to friday': at(0.4, 0, 3),
    });
    const save = async (content: string) => (await saveMemory(t.db, embedder, agent, { content, type: 'fact' })).memory.id;
    return {
      embedder,
      V: await save('Vintage cars parked outside'),
      T: await save('The orchid needs watering on mondays'),
      F: await save('Orchid watering schedule: orchid watering schedule, every week'),
      fillers: [await save('Blue paint for the fence'), await save('The dentist moved to friday')],
    };
  }

  it('fuses vector and text ranks: each alone ranks wrongly, the fusion ranks right', async () => {
    const { embedder, V, T, F } = await craftedSet();
    const res = await recall(t.db, embedder, agent, { query: QUERY });
    expect(res.signalsUsed).toEqual(['vector', 'text', 'graph']);
    const byId = new Map(res.results.map((r) => [r.memory.id, r]));
    // Vector alone puts V first, text alone puts F first...
    expect(byId.get(V)?.signals.vector?.rank).toBe(1);
    expect(byId.get(V)?.signals.text).toBeUndefined();
    expect(byId.get(F)?.signals.text?.rank).toBe(1);
    expect(byId.get(F)?.signals.vector).toBeUndefined(); // below the similarity floor
    // ...and T, second in both, wins the fusion.
    expect(byId.get(T)?.signals).toMatchObject({ vector: { rank: 2 }, text: { rank: 2 } });
    expect(res.results[0]?.memory.id).toBe(T);
    expect(res.results[0]?.score).toBeCloseTo(2 / 62, 6);
    expect(res.results.slice(1, 3).map((r) => r.memory.id).sort()).toEqual([V, F].sort());
  });

  it('the graph walk reaches memories no text or vector matches (up to 2 hops, by edge type)', async () => {
    const { embedder, T } = await craftedSet();
    embedder.set('Bought a humidifier for the living room', vec({ 20: 1 })).set('Living room plants get morning sun', vec({ 21: 1 }));
    embedder.set('Three hops away', vec({ 22: 1 }));
    const humidifier = (await saveMemory(t.db, embedder, agent, { content: 'Bought a humidifier for the living room', type: 'event', associations: [{ id: T, type: 'result_of' }] })).memory.id;
    const sun = (await saveMemory(t.db, embedder, agent, { content: 'Living room plants get morning sun', type: 'fact', associations: [{ id: humidifier, type: 'related_to' }] })).memory.id;
    const far = (await saveMemory(t.db, embedder, agent, { content: 'Three hops away', type: 'fact', associations: [{ id: sun, type: 'related_to' }] })).memory.id;

    const res = await recall(t.db, embedder, agent, { query: QUERY, limit: 20 });
    const byId = new Map(res.results.map((r) => [r.memory.id, r]));
    expect(byId.get(humidifier)?.signals).toEqual({ graph: expect.objectContaining({ from: T, edge: 'result_of', hops: 1 }) });
    expect(byId.get(sun)?.signals).toEqual({ graph: expect.objectContaining({ edge: 'related_to', hops: 2 }) });
    expect(byId.get(humidifier)?.signals.graph?.score ?? 0).toBeGreaterThan(byId.get(sun)?.signals.graph?.score ?? 0);
    expect(byId.has(far)).toBe(false);

    // Edge-type multipliers: an `updates` edge outweighs a `contradicts` edge from the same seed.
    embedder.set('Newer orchid note', vec({ 30: 1 })).set('Disputed orchid note', vec({ 31: 1 }));
    const newer = (await saveMemory(t.db, embedder, agent, { content: 'Newer orchid note', type: 'fact' })).memory.id;
    const disputed = (await saveMemory(t.db, embedder, agent, { content: 'Disputed orchid note', type: 'fact' })).memory.id;
    await linkMemories(t.db, agent, newer, T, 'updates');
    await linkMemories(t.db, agent, disputed, T, 'contradicts');
    const res2 = await recall(t.db, embedder, agent, { query: 'watering mondays', limit: 20 });
    const g = new Map(res2.results.map((r) => [r.memory.id, r.signals.graph?.score ?? 0]));
    expect(g.get(newer) ?? 0).toBeGreaterThan(g.get(humidifier) ?? 0);
    expect(g.get(humidifier) ?? 0).toBeGreaterThan(g.get(disputed) ?? 0);
  });

  it('falls back to full text + graph without an embedder', async () => {
    const a = (await saveMemory(t.db, null, agent, { content: 'The orchid needs watering on mondays', type: 'fact' })).memory.id;
    const linked = (await saveMemory(t.db, null, agent, { content: 'Bought a humidifier', type: 'event', associations: [{ id: a, type: 'caused_by' }] })).memory.id;
    await saveMemory(t.db, null, agent, { content: 'Nothing relevant', type: 'fact' });
    const res = await recall(t.db, null, agent, { query: QUERY });
    expect(res.signalsUsed).toEqual(['text', 'graph']);
    expect(res.results.map((r) => r.memory.id)).toEqual([a, linked]);
    expect(res.results[0]?.signals).toEqual({ text: expect.objectContaining({ rank: 1 }) });
    expect(res.results[1]?.signals).toEqual({ graph: expect.objectContaining({ edge: 'caused_by' }) });
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM memories WHERE agent_id = ${agent} AND embedding IS NOT NULL`.execute(t.db);
    expect(rows[0]?.n).toBe(0);
  });

  it('keeps scopes apart: agent-wide + this user + this chat, never another user, chat or agent', async () => {
    const embedder = new TableEmbedder();
    const save = async (content: string, scope?: Parameters<typeof saveMemory>[3]['scope'], who = agent) =>
      (await saveMemory(t.db, embedder, who, { content, type: 'preference', scope })).memory.id;
    const shared = await save('coffee shared by everyone');
    const alice = await save('coffee alice likes oat milk', { kind: 'user', id: 'alice' });
    const bob = await save('coffee bob likes it black', { kind: 'user', id: 'bob' });
    const chat1 = await save('coffee in chat one', { kind: 'chat', id: 'c1' });
    const chat2 = await save('coffee in chat two', { kind: 'chat', id: 'c2' });
    // Edges into Bob's memory must not carry a walk there either.
    await linkMemories(t.db, agent, alice, bob, 'related_to');
    await linkMemories(t.db, agent, shared, bob, 'updates');
    await linkMemories(t.db, agent, shared, chat2, 'updates');
    const other = await createAgent(t.db, 'recall-other');
    try {
      await save('coffee of another agent', undefined, other);
      await save('coffee alice told another agent', { kind: 'user', id: 'alice' }, other);

      for (const mode of ['hybrid', 'recent', 'important', 'typed'] as const) {
        const asAlice = await recall(t.db, embedder, agent, { query: 'coffee', mode, limit: 50, context: { userId: 'alice', chatId: 'c1' } });
        expect(asAlice.results.map((r) => r.memory.id).sort()).toEqual([shared, alice, chat1].sort());
        const anonymous = await recall(t.db, embedder, agent, { query: 'coffee', mode, limit: 50 });
        expect(anonymous.results.map((r) => r.memory.id)).toEqual([shared]);
        const asBob = await recall(t.db, embedder, agent, { query: 'coffee', mode, limit: 50, context: { userId: 'bob', chatId: 'c2' } });
        expect(asBob.results.map((r) => r.memory.id).sort()).toEqual([shared, bob, chat2].sort());
      }
    } finally {
      await removeAgent(t.db, other);
    }
  });

  it('filters by type, supports recent/important/typed modes, and bumps access stats', async () => {
    const embedder = new TableEmbedder();
    const goal = (await saveMemory(t.db, embedder, agent, { content: 'ship the garden app', type: 'goal' })).memory;
    const todo = (await saveMemory(t.db, embedder, agent, { content: 'water the garden', type: 'todo', importance: 0.95 })).memory;
    const fact = (await saveMemory(t.db, embedder, agent, { content: 'the garden faces south', type: 'fact' })).memory;
    await sql`UPDATE memories SET updated_at = now() - interval '1 day' WHERE id = ${todo.id}::uuid`.execute(t.db);

    const typed = await recall(t.db, embedder, agent, { query: 'garden', types: ['goal', 'todo'], limit: 10, touch: false });
    expect(typed.results.map((r) => r.memory.id).sort()).toEqual([goal.id, todo.id].sort());

    const ids = async (mode: 'recent' | 'important' | 'typed') => (await recall(t.db, null, agent, { mode, touch: false })).results.map((r) => r.memory.id);
    expect((await ids('recent')).at(-1)).toBe(todo.id);
    expect(await ids('important')).toEqual([todo.id, goal.id, fact.id]);
    expect(await ids('typed')).toEqual([fact.id, goal.id, todo.id]);
    await expect(recall(t.db, null, agent, { mode: 'hybrid' })).rejects.toMatchObject({ field: 'q' });

    const before = (await t.db.selectFrom('memories').select(['access_count']).where('id', '=', fact.id).executeTakeFirstOrThrow()).access_count;
    const res = await recall(t.db, embedder, agent, { query: 'south', limit: 1 });
    expect(res.results.map((r) => r.memory.id)).toEqual([fact.id]);
    expect(res.results[0]?.memory.accessCount).toBe(before + 1);
    const untouched = await t.db.selectFrom('memories').select('access_count').where('id', '=', goal.id).executeTakeFirstOrThrow();
    expect(untouched.access_count).toBe(0);
  });
});
