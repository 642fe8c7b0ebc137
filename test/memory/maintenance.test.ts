import { sql } from 'kysely';
import { decayImportance, linkRelated, mergeNearDuplicates, pruneMemories } from '../../lib/memory/maintenance.js';
import { MEMORY_TYPES } from '../../lib/memory/model.js';
import { edgesOf, getMemory, linkMemories, saveMemory } from '../../lib/memory/store.js';
import { at, backends, createAgent, openTestDb, removeAgent, TableEmbedder, vec, type TestDb } from './db.js';

const DAY = 86_400_000;

describe.each(backends)('memory maintenance on $name', (backend) => {
  let t: TestDb;
  let agent: string;
  beforeAll(async () => {
    t = await openTestDb(backend);
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    agent = await createAgent(t.db, 'maint');
  });
  afterEach(async () => {
    await removeAgent(t.db, agent);
  });

  const importances = async () =>
    new Map((await t.db.selectFrom('memories').select(['id', 'importance']).where('agent_id', '=', agent).execute()).map((r) => [r.id, r.importance]));

  it('decays over 100 passes toward the floor: never climbs, never collapses, identity unchanged, recent access slower', async () => {
    const ids = new Map<string, string>();
    for (const type of MEMORY_TYPES) ids.set(type, (await saveMemory(t.db, null, agent, { content: `a ${type}`, type })).memory.id);
    const high = (await saveMemory(t.db, null, agent, { content: 'nearly certain', type: 'goal', importance: 0.99 })).memory.id;
    const touched = (await saveMemory(t.db, null, agent, { content: 'used all the time', type: 'fact' })).memory.id;
    const untouched = ids.get('fact') as string;
    const start = Date.now();
    let previous = await importances();
    for (let pass = 1; pass <= 100; pass++) {
      const now = new Date(start + pass * DAY);
      // `touched` is recalled every day; everything else was last accessed at creation.
      await t.db.updateTable('memories').set({ last_accessed_at: now }).where('id', '=', touched).execute();
      const { decayed } = await decayImportance(t.db, agent, { now });
      expect(decayed).toBeLessThanOrEqual(MEMORY_TYPES.length + 1);
      const current = await importances();
      for (const [id, value] of current) {
        expect(value).toBeLessThanOrEqual(previous.get(id) ?? Infinity);
        expect(value).toBeGreaterThanOrEqual(0.05 - 1e-6);
        if (id !== ids.get('identity')) expect(value).toBeLessThan(1);
      }
      if (pass === 10) {
        // Ten passes: still well above the floor (0.05 + 0.55 * 0.98^~10 ≈ 0.5).
        expect(current.get(untouched)).toBeGreaterThan(0.45);
      }
      previous = current;
    }
    expect(previous.get(ids.get('identity') as string)).toBe(1);
    expect(previous.get(high)).toBeLessThan(0.99);
    // 0.05 + 0.55 * 0.98^~95 ≈ 0.13; touched decays at a quarter of the rate: ≈ 0.38.
    expect(previous.get(untouched)).toBeGreaterThan(0.1);
    expect(previous.get(untouched)).toBeLessThan(0.2);
    expect(previous.get(touched)).toBeGreaterThan(0.3);
    await expect(decayImportance(t.db, agent, { rate: 1.5 })).rejects.toThrow(RangeError);
  });

  it('prunes unimportant memories untouched for 30 days into the archive, with their edges', async () => {
    const old = new Date(Date.now() - 40 * DAY);
    const doomed = (await saveMemory(t.db, null, agent, { content: 'forgettable', type: 'observation', importance: 0.05 })).memory.id;
    const recent = (await saveMemory(t.db, null, agent, { content: 'low but recent', type: 'observation', importance: 0.05 })).memory.id;
    const important = (await saveMemory(t.db, null, agent, { content: 'old but important', type: 'fact' })).memory.id;
    const identity = (await saveMemory(t.db, null, agent, { content: 'I am Spacebot', type: 'identity', importance: 0.01 })).memory.id;
    await linkMemories(t.db, agent, doomed, important, 'related_to');
    await linkMemories(t.db, agent, recent, doomed, 'caused_by');
    await t.db
      .updateTable('memories')
      .set({ created_at: old, updated_at: old, last_accessed_at: old })
      .where('id', 'in', [doomed, important, identity])
      .execute();

    expect(await pruneMemories(t.db, agent)).toEqual({ pruned: 1, edgesRemoved: 2 });
    expect(await getMemory(t.db, agent, doomed)).toBeNull();
    for (const kept of [recent, important, identity]) expect(await getMemory(t.db, agent, kept)).not.toBeNull();
    const archived = await t.db.selectFrom('memory_archive').selectAll().where('agent_id', '=', agent).execute();
    expect(archived).toEqual([expect.objectContaining({ id: doomed, content: 'forgettable', reason: 'pruned', merged_into: null })]);
    expect(await edgesOf(t.db, agent, important)).toEqual([]);
    expect(await pruneMemories(t.db, agent)).toEqual({ pruned: 0, edgesRemoved: 0 });
  });

  it('merges near duplicates of the same type and scope, re-pointing edges and summing access counts', async () => {
    const embedder = new TableEmbedder({
      'Alice prefers tea': vec({ 0: 1 }),
      'Alice likes tea': at(0.97, 0, 1),
      'Alice prefers tea (chat)': vec({ 0: 1 }),
      'Alice tea fact': vec({ 0: 1 }),
      'Unrelated': vec({ 7: 1 }),
    });
    // Saved without dedup so both rows exist (a threshold above 1 disables it).
    const save = (content: string, extra: Partial<Parameters<typeof saveMemory>[3]> = {}) =>
      saveMemory(t.db, embedder, agent, { content, type: 'preference', ...extra }, { duplicateThreshold: 2 }).then((r) => r.memory.id);
    const weak = await save('Alice prefers tea', { importance: 0.6, idempotencyKey: 'k-weak' });
    const strong = await save('Alice likes tea', { importance: 0.8 });
    const otherScope = await save('Alice prefers tea (chat)', { scope: { kind: 'chat', id: 'c1' } });
    const otherType = await save('Alice tea fact', { type: 'fact' });
    const unrelated = await save('Unrelated', { associations: [{ id: weak, type: 'related_to', weight: 0.4 }] });
    await linkMemories(t.db, agent, weak, strong, 'related_to');
    await t.db.updateTable('memories').set({ access_count: 3 }).where('id', '=', weak).execute();
    await t.db.updateTable('memories').set({ access_count: 4 }).where('id', '=', strong).execute();

    expect(await mergeNearDuplicates(t.db, agent)).toEqual({ merged: 1, edgesRepointed: 1 });
    expect(await getMemory(t.db, agent, weak)).toBeNull();
    const kept = await getMemory(t.db, agent, strong);
    expect(kept).toMatchObject({ content: 'Alice likes tea', importance: 0.8, accessCount: 7 });
    for (const id of [otherScope, otherType, unrelated]) expect(await getMemory(t.db, agent, id)).not.toBeNull();
    // unrelated → weak became unrelated → strong; the weak ↔ strong edge vanished (no self edges).
    expect(await edgesOf(t.db, agent, strong)).toEqual([expect.objectContaining({ fromId: unrelated, toId: strong, type: 'related_to', weight: 0.4 })]);
    const archived = await t.db.selectFrom('memory_archive').select(['id', 'reason', 'merged_into']).where('agent_id', '=', agent).execute();
    expect(archived).toEqual([{ id: weak, reason: 'merged', merged_into: strong }]);
    // A retried save with the merged memory's key answers with the survivor.
    const retry = await saveMemory(t.db, embedder, agent, { content: 'Alice prefers tea', type: 'preference', idempotencyKey: 'k-weak' });
    expect(retry).toMatchObject({ status: 'duplicate', memory: { id: strong } });
    expect(await mergeNearDuplicates(t.db, agent)).toEqual({ merged: 0, edgesRepointed: 0 });
  });

  it('links related memories (cosine >= 0.85) once, within a scope', async () => {
    const embedder = new TableEmbedder({
      'garden in spring': vec({ 0: 1 }),
      'garden in summer': at(0.9, 0, 1),
      'garden in winter': at(0.5, 0, 2),
      'garden for chat': at(0.9, 0, 3),
    });
    const spring = (await saveMemory(t.db, embedder, agent, { content: 'garden in spring', type: 'fact' })).memory.id;
    const summer = (await saveMemory(t.db, embedder, agent, { content: 'garden in summer', type: 'event' })).memory.id;
    const winter = (await saveMemory(t.db, embedder, agent, { content: 'garden in winter', type: 'fact' })).memory.id;
    await saveMemory(t.db, embedder, agent, { content: 'garden for chat', type: 'fact', scope: { kind: 'chat', id: 'c1' } });
    expect(await linkRelated(t.db, agent)).toEqual({ linked: 1 });
    const edges = await edgesOf(t.db, agent, spring);
    expect(edges).toHaveLength(1);
    expect(edges?.[0]).toMatchObject({ type: 'related_to' });
    expect([edges?.[0]?.fromId, edges?.[0]?.toId].sort()).toEqual([spring, summer].sort());
    expect(edges?.[0]?.weight).toBeCloseTo(0.9, 4);
    expect(await edgesOf(t.db, agent, winter)).toEqual([]);
    expect(await linkRelated(t.db, agent)).toEqual({ linked: 0 });
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM memory_edges WHERE agent_id = ${agent}`.execute(t.db);
    expect(rows[0]?.n).toBe(1);
  });
});
