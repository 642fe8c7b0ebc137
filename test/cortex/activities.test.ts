import { makeCortexActivities } from '../../activities/cortex.js';
import type { ActivityDeps } from '../../activities/deps.js';
import { createLogger } from '../../lib/logger.js';
import { MEMORY_TYPES } from '../../lib/memory/model.js';
import { saveMemory } from '../../lib/memory/store.js';
import { backends, createAgent, openTestDb, removeAgent, type TestDb } from '../memory/db.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

describe.each(backends)('cortex activities on $name', (backend) => {
  let t: TestDb;
  let agent: string;
  let cortex: ReturnType<typeof makeCortexActivities>;
  beforeAll(async () => {
    t = await openTestDb(backend);
    // The activities use only the database and the logger of their deps.
    cortex = makeCortexActivities({ db: t.db, logger: createLogger('cortex-test', 'silent') } as unknown as ActivityDeps);
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    agent = await createAgent(t.db, 'cortex');
  });
  afterEach(async () => {
    await removeAgent(t.db, agent);
  });

  const importance = async (id: string) => (await t.db.selectFrom('memories').select('importance').where('id', '=', id).executeTakeFirstOrThrow()).importance;

  it('decay over 100 daily passes: no climb to 1.0, no collapse, identity exempt, recent access slower; a retried pass decays once', async () => {
    const ids = new Map<string, string>();
    for (const type of MEMORY_TYPES) ids.set(type, (await saveMemory(t.db, null, agent, { content: `one ${type}`, type })).memory.id);
    const recalled = (await saveMemory(t.db, null, agent, { content: 'looked up every day', type: 'fact' })).memory.id;
    const start = Date.now();
    let previous = new Map<string, number>();
    for (let pass = 1; pass <= 100; pass++) {
      const now = new Date(start + pass * DAY);
      await t.db.updateTable('memories').set({ last_accessed_at: now }).where('id', '=', recalled).execute();
      const input = { agentId: agent, passKey: `run-1:${pass}`, now: now.toISOString(), intervalMinutes: 24 * 60 };
      const first = await cortex.decayMemories(input);
      expect(first).toMatchObject({ decayed: MEMORY_TYPES.length, days: 1 }); // every type but identity, plus the recalled fact
      // A retry of the same pass (its first attempt's answer lost) answers the same and decays nothing more.
      const snapshot = await importance(ids.get('fact') as string);
      expect(await cortex.decayMemories(input)).toEqual(first);
      expect(await importance(ids.get('fact') as string)).toBe(snapshot);
      const current = new Map((await t.db.selectFrom('memories').select(['id', 'importance']).where('agent_id', '=', agent).execute()).map((r) => [r.id, r.importance]));
      for (const [id, value] of current) {
        if (previous.has(id)) expect(value).toBeLessThanOrEqual(previous.get(id) as number);
        expect(value).toBeGreaterThan(0.05);
        if (id !== ids.get('identity')) expect(value).toBeLessThan(1);
      }
      previous = current;
    }
    expect(previous.get(ids.get('identity') as string)).toBe(1);
    // Untouched: 7 recent days at a quarter of the rate, then 93 at the full rate ≈ 0.13. Recalled daily ≈ 0.38.
    expect(previous.get(ids.get('fact') as string)).toBeCloseTo(0.05 + 0.55 * 0.995 ** 7 * 0.98 ** 93, 2);
    expect(previous.get(recalled)).toBeCloseTo(0.05 + 0.55 * 0.995 ** 100, 2);
    // Decay never reorders memories that decay alike: the types keep their default order.
    const byImportance = MEMORY_TYPES.filter((m) => m !== 'identity').sort(
      (a, b) => (previous.get(ids.get(b) as string) ?? 0) - (previous.get(ids.get(a) as string) ?? 0) || a.localeCompare(b),
    );
    expect(byImportance).toEqual(['goal', 'person', 'decision', 'todo', 'preference', 'fact', 'event', 'observation']);
  });

  it('decays by elapsed time: 48 hourly passes decay as much as 2 daily ones', async () => {
    const other = await createAgent(t.db, 'cortex-daily');
    try {
      const hourly = (await saveMemory(t.db, null, agent, { content: 'hourly', type: 'fact' })).memory.id;
      const daily = (await saveMemory(t.db, null, other, { content: 'daily', type: 'fact' })).memory.id;
      const start = Date.now() + 30 * DAY; // long after creation: no recent-access slowdown
      for (let pass = 0; pass <= 48; pass++) {
        const r = await cortex.decayMemories({ agentId: agent, passKey: `h:${pass}`, now: new Date(start + pass * HOUR).toISOString(), intervalMinutes: 60 });
        expect(r.days).toBeCloseTo(1 / 24, 6);
      }
      for (let pass = 0; pass <= 2; pass++) {
        await cortex.decayMemories({ agentId: other, passKey: `d:${pass}`, now: new Date(start + pass * DAY).toISOString(), intervalMinutes: 24 * 60 });
      }
      // Both: one interval for the first pass, then 2 days.
      expect(await importance(hourly)).toBeCloseTo(0.05 + 0.55 * 0.98 ** (2 + 1 / 24), 4);
      expect(await importance(daily)).toBeCloseTo(0.05 + 0.55 * 0.98 ** 3, 4);
    } finally {
      await removeAgent(t.db, other);
    }
  });

  it('prune, merge, link and render report counts; a retried step answers with its first counts', async () => {
    const old = new Date(Date.now() - 40 * DAY);
    const doomed = (await saveMemory(t.db, null, agent, { content: 'forgettable', type: 'observation', importance: 0.05 })).memory.id;
    await t.db.updateTable('memories').set({ created_at: old, updated_at: old, last_accessed_at: old }).where('id', '=', doomed).execute();
    await saveMemory(t.db, null, agent, { content: 'I am Spacebot.', type: 'identity' });
    const input = { agentId: agent, passKey: 'run-2:1', now: new Date().toISOString() };
    expect(await cortex.pruneMemories(input)).toEqual({ pruned: 1, edgesRemoved: 0 });
    expect(await cortex.pruneMemories(input)).toEqual({ pruned: 1, edgesRemoved: 0 });
    expect(await t.db.selectFrom('memory_archive').select('reason').where('id', '=', doomed).executeTakeFirst()).toEqual({ reason: 'pruned' });
    expect(await cortex.mergeMemories(input)).toEqual({ merged: 0, edgesRepointed: 0 });
    expect(await cortex.linkMemories(input)).toEqual({ linked: 0 });
    const rendered = await cortex.renderMemoryContext(input);
    expect(rendered).toEqual({ contexts: 1, changed: 1, memories: 1, words: expect.any(Number), version: 1 });
    expect(await cortex.renderMemoryContext({ ...input, passKey: 'run-2:2' })).toMatchObject({ changed: 0, version: 1 });
  });
});
