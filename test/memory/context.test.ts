import {
  getStoredMemoryContext,
  loadMemoryContext,
  MEMORY_CONTEXT_HEADER,
  refreshAllMemoryContexts,
  refreshMemoryContext,
  renderMemoryContext,
} from '../../lib/memory/context.js';
import { decayImportance } from '../../lib/memory/maintenance.js';
import { saveMemory } from '../../lib/memory/store.js';
import { backends, createAgent, openTestDb, removeAgent, type TestDb } from './db.js';

const words = (text: string) => (text.match(/\S+/g) ?? []).length;

describe.each(backends)('memory context on $name', (backend) => {
  let t: TestDb;
  let agent: string;
  beforeAll(async () => {
    t = await openTestDb(backend);
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    agent = await createAgent(t.db, 'ctx');
  });
  afterEach(async () => {
    await removeAgent(t.db, agent); // memory_context rows go with the agent (ON DELETE CASCADE)
  });

  it('is byte-identical across renders until the memories change; a new important memory changes it', async () => {
    await saveMemory(t.db, null, agent, { content: 'The user is called Alice.', type: 'person' });
    await saveMemory(t.db, null, agent, { content: 'Alice prefers\n\nshort answers.', type: 'preference' });
    await saveMemory(t.db, null, agent, { content: 'I am Spacebot.', type: 'identity' });

    const first = await refreshMemoryContext(t.db, agent);
    expect(first.changed).toBe(true);
    expect(first.memoryVersion).toBe(1);
    expect(first.text).toBe(
      `${MEMORY_CONTEXT_HEADER}\n- (identity) I am Spacebot.\n- (person) The user is called Alice.\n- (preference) Alice prefers short answers.`,
    );

    // Decay moves every importance but not the order: nothing visible changed.
    await decayImportance(t.db, agent);
    const second = await refreshMemoryContext(t.db, agent);
    expect(second.changed).toBe(false);
    expect(Buffer.from(second.text).equals(Buffer.from(first.text))).toBe(true);
    expect(second.hash).toBe(first.hash);
    expect(second.renderedAt).toBe(first.renderedAt);
    expect(second.memoryVersion).toBe(1);
    expect(await loadMemoryContext(t.db, agent)).toBe(first.text);

    await saveMemory(t.db, null, agent, { content: 'Ship the cortex by Friday.', type: 'goal' });
    const third = await refreshMemoryContext(t.db, agent);
    expect(third.changed).toBe(true);
    expect(third.memoryVersion).toBe(2);
    expect(third.text).not.toBe(first.text);
    expect(third.text.split('\n')[3]).toBe('- (goal) Ship the cortex by Friday.');
    expect(await loadMemoryContext(t.db, agent)).toBe(third.text);
  });

  it('stays within 500 words, cut at memory boundaries, most important first with id tie-breaks', async () => {
    const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    for (let i = 0; i < 20; i++) await saveMemory(t.db, null, agent, { content: `${i} ${long}`, type: 'fact', importance: 0.5 });
    const huge = Array.from({ length: 600 }, () => 'big').join(' ');
    await saveMemory(t.db, null, agent, { content: huge, type: 'identity' });
    const rendered = await renderMemoryContext(t.db, agent);
    expect(words(rendered.text)).toBeLessThanOrEqual(500);
    expect(rendered.wordCount).toBe(words(rendered.text));
    // The 600-word identity memory never fits and is left out whole; no memory is truncated.
    expect(rendered.text).not.toContain('big');
    const lines = rendered.text.split('\n').slice(2);
    expect(lines.length).toBe(rendered.memoryCount);
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) expect(line).toMatch(/word59$/);
    // Equal importance: ordered by id.
    const ids = (await t.db.selectFrom('memories').select(['id', 'content']).where('agent_id', '=', agent).where('type', '=', 'fact').orderBy('id').execute()).map((r) => r.content.split(' ')[0]);
    expect(lines.map((l) => l.split(' ')[2])).toEqual(ids.slice(0, lines.length));
    expect((await renderMemoryContext(t.db, agent)).text).toBe(rendered.text);
  });

  it('shows agent-wide memories only, unless a user or chat scope is given', async () => {
    await saveMemory(t.db, null, agent, { content: 'Team standup is at nine.', type: 'fact' });
    await saveMemory(t.db, null, agent, { content: 'Bob likes tea.', type: 'preference', scope: { kind: 'user', id: 'bob' } });
    await saveMemory(t.db, null, agent, { content: 'Carol likes coffee.', type: 'preference', scope: { kind: 'user', id: 'carol' } });
    const other = await createAgent(t.db, 'ctx-other');
    try {
      await saveMemory(t.db, null, other, { content: 'Another agent secret.', type: 'identity' });
      const agentWide = await loadMemoryContext(t.db, agent);
      expect(agentWide).toContain('standup');
      expect(agentWide).not.toContain('Bob');
      expect(agentWide).not.toContain('secret');
      const bob = await loadMemoryContext(t.db, agent, { userId: 'bob' });
      expect(bob).toContain('(preference, about this user) Bob likes tea.');
      expect(bob).toContain('standup');
      expect(bob).not.toContain('Carol');
      // The cortex refreshes the scoped context too once it exists.
      await saveMemory(t.db, null, agent, { content: 'Bob is allergic to nuts.', type: 'fact', importance: 0.95, scope: { kind: 'user', id: 'bob' } });
      const all = await refreshAllMemoryContexts(t.db, agent);
      expect(all).toMatchObject({ contexts: 2, changed: 1 });
      expect((await getStoredMemoryContext(t.db, agent, { userId: 'bob' }))?.text).toContain('allergic');
    } finally {
      await removeAgent(t.db, other);
    }
  });

  it('is undefined for an agent with no memories', async () => {
    expect(await loadMemoryContext(t.db, agent)).toBeUndefined();
  });
});
