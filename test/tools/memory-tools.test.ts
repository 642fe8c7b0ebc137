import { backends, createAgent, openTestDb, removeAgent, TableEmbedder, vec, at, type TestDb } from '../memory/db.js';
import { MEMORY_TOOL_DEFINITIONS, memoryToolKey, runMemoryTool, type MemoryToolContext } from '../../lib/tools/memory-tools.js';

describe.each(backends)('memory tools ($name)', (backend) => {
  let t: TestDb;
  let agent: string;
  let other: string;
  const embedder = new TableEmbedder({
    'Alice prefers tea over coffee': vec({ 0: 1 }),
    'Alice prefers green tea over coffee': at(0.97, 0, 1),
    'The office moves to Berlin in May': vec({ 5: 1 }),
  });

  beforeAll(async () => {
    t = await openTestDb(backend);
  });
  beforeEach(async () => {
    agent = await createAgent(t.db, 'tools');
    other = await createAgent(t.db, 'tools-other');
  });
  afterEach(async () => {
    await removeAgent(t.db, agent);
    await removeAgent(t.db, other);
  });
  afterAll(async () => {
    await t?.close();
  });

  const ctx = (over: Partial<MemoryToolContext> = {}): MemoryToolContext => ({
    db: t.db,
    embedder,
    agentId: agent,
    channelId: 'channel:x:webhook:room-1',
    userId: 'alice',
    callKey: memoryToolKey('channel:x:webhook:room-1', 1, 1, 0, 'toolu_1'),
    ...over,
  });
  const count = async (agentId = agent) =>
    Number((await t.db.selectFrom('memories').select((eb) => eb.fn.countAll().as('n')).where('agent_id', '=', agentId).executeTakeFirstOrThrow()).n);

  test('the tools are offered to models with strict JSON schemas', () => {
    expect(MEMORY_TOOL_DEFINITIONS.map((d) => d.name)).toEqual(['memory_save', 'memory_recall', 'memory_delete']);
    for (const d of MEMORY_TOOL_DEFINITIONS) expect(d.inputSchema).toMatchObject({ type: 'object', additionalProperties: false });
  });

  test('a retried save (same call key) stores one memory and answers with the same id', async () => {
    const input = { content: 'The office moves to Berlin in May', type: 'event' };
    const first = await runMemoryTool('memory_save', input, ctx());
    const retry = await runMemoryTool('memory_save', input, ctx());
    expect(first).toMatchObject({ isError: false, status: 'created' });
    expect(retry).toMatchObject({ isError: false, status: 'duplicate', memoryId: first.memoryId });
    expect(first.content).toContain(first.memoryId);
    expect(await count()).toBe(1);
    // Another call position is another save.
    await runMemoryTool('memory_save', { content: 'The office moves to Berlin in May', type: 'fact' }, ctx({ callKey: 'other-position' }));
    expect(await count()).toBe(2);
  });

  test('text the database cannot store (NUL, a lone surrogate) is an invalid argument for the model, not a failing write', async () => {
    const nul = await runMemoryTool('memory_save', { content: 'steered\u0000into a NUL', type: 'fact' }, ctx());
    expect(nul).toMatchObject({ isError: true, content: 'Invalid arguments for memory_save: content: must not contain NUL characters (\\u0000)' });
    const surrogate = await runMemoryTool('memory_recall', { query: 'broken \uD800 half' }, ctx());
    expect(surrogate).toMatchObject({ isError: true, content: 'Invalid arguments for memory_recall: query: must not contain unpaired UTF-16 surrogates (invalid Unicode)' });
    expect(await count()).toBe(0);
  });

  test('a near duplicate of the same type stores the update and links it with `updates`', async () => {
    const old = await runMemoryTool('memory_save', { content: 'Alice prefers tea over coffee', type: 'preference', scope: 'user' }, ctx({ callKey: 'a' }));
    const upd = await runMemoryTool('memory_save', { content: 'Alice prefers green tea over coffee', type: 'preference', scope: 'user' }, ctx({ callKey: 'b' }));
    expect(upd.status).toBe('updated');
    expect(upd.content).toContain(`updates the near-identical memory ${old.memoryId}`);
    const edges = await t.db.selectFrom('memory_edges').select(['from_id', 'to_id', 'type']).where('agent_id', '=', agent).execute();
    expect(edges).toEqual([{ from_id: upd.memoryId, to_id: old.memoryId, type: 'updates' }]);
  });

  test('recall finds a saved memory and shows its id', async () => {
    const saved = await runMemoryTool('memory_save', { content: 'The office moves to Berlin in May', type: 'event' }, ctx());
    const found = await runMemoryTool('memory_recall', { query: 'when does the office move to Berlin' }, ctx({ callKey: 'r' }));
    expect(found.isError).toBe(false);
    expect(found.content).toContain(`[${saved.memoryId}]`);
    expect(found.content).toContain('The office moves to Berlin in May');
    const typed = await runMemoryTool('memory_recall', { mode: 'typed', type: 'goal' }, ctx({ callKey: 'r2' }));
    expect(typed.content).toBe('No memories found.');
  });

  test('recall without an embedder still finds memories by text', async () => {
    await runMemoryTool('memory_save', { content: 'The office moves to Berlin in May', type: 'event' }, ctx({ embedder: null }));
    const found = await runMemoryTool('memory_recall', { query: 'Berlin office' }, ctx({ embedder: null, callKey: 'r' }));
    expect(found.content).toContain('The office moves to Berlin in May');
  });

  test('delete removes the memory and its edges', async () => {
    const a = await runMemoryTool('memory_save', { content: 'The office moves to Berlin in May', type: 'event' }, ctx({ callKey: 'a' }));
    const b = await runMemoryTool(
      'memory_save',
      { content: 'Book movers for the Berlin office', type: 'todo', associations: [{ id: a.memoryId, type: 'result_of' }] },
      ctx({ callKey: 'b' }),
    );
    expect(b.content).toContain(`linked to ${a.memoryId} (result_of)`);
    const del = await runMemoryTool('memory_delete', { id: a.memoryId }, ctx({ callKey: 'd' }));
    expect(del).toMatchObject({ isError: false });
    expect(del.content).toBe(`Deleted memory ${a.memoryId} and its 1 link.`);
    expect(await count()).toBe(1);
    expect(await t.db.selectFrom('memory_edges').selectAll().where('agent_id', '=', agent).execute()).toEqual([]);
  });

  test('user-scoped memories are recalled for that user only, never for another user or agent', async () => {
    const saved = await runMemoryTool('memory_save', { content: 'Alice prefers tea over coffee', type: 'preference', scope: 'user' }, ctx());
    const mine = await runMemoryTool('memory_recall', { query: 'tea coffee' }, ctx({ callKey: 'r1' }));
    expect(mine.content).toContain(saved.memoryId);
    const bob = await runMemoryTool('memory_recall', { query: 'tea coffee' }, ctx({ userId: 'bob', callKey: 'r2' }));
    expect(bob.content).toBe('No memories found.');
    const otherAgent = await runMemoryTool('memory_recall', { query: 'tea coffee' }, ctx({ agentId: other, callKey: 'r3' }));
    expect(otherAgent.content).toBe('No memories found.');
    // Bob can neither delete it nor link to it, and is not told that it exists.
    const del = await runMemoryTool('memory_delete', { id: saved.memoryId }, ctx({ userId: 'bob', callKey: 'd' }));
    expect(del).toEqual({ content: `No memory ${saved.memoryId} to delete.`, isError: true });
    const link = await runMemoryTool(
      'memory_save',
      { content: 'Bob likes coffee', type: 'preference', associations: [{ id: saved.memoryId, type: 'contradicts' }] },
      ctx({ userId: 'bob', callKey: 'l' }),
    );
    expect(link.isError).toBe(true);
    expect(await count()).toBe(1);
  });

  test('the user and chat of a scope come from the context, and bad arguments are explained', async () => {
    const chat = await runMemoryTool('memory_save', { content: 'This room plans the offsite', type: 'fact', scope: 'chat' }, ctx());
    const row = await t.db.selectFrom('memories').select(['scope_kind', 'scope_id', 'source_channel']).where('id', '=', chat.memoryId ?? '').executeTakeFirstOrThrow();
    expect(row).toEqual({ scope_kind: 'chat', scope_id: 'channel:x:webhook:room-1', source_channel: 'channel:x:webhook:room-1' });
    const noUser = await runMemoryTool('memory_save', { content: 'x', type: 'fact', scope: 'user' }, ctx({ userId: undefined, callKey: 'n' }));
    expect(noUser.isError).toBe(true);
    expect(noUser.content).toContain('no known user');
    const injected = await runMemoryTool('memory_save', { content: 'x', type: 'fact', scope: 'user', user: 'bob' }, ctx({ callKey: 'i' }));
    expect(injected.isError).toBe(true);
    expect(injected.content).toContain('user');
    const big = await runMemoryTool('memory_save', { content: 'x'.repeat(50 * 1024 + 1), type: 'fact' }, ctx({ callKey: 'big' }));
    expect(big.isError).toBe(true);
    expect(big.content).toContain('content');
    expect((await runMemoryTool('memory_recall', {}, ctx({ callKey: 'q' }))).content).toContain('query');
    expect(await runMemoryTool('memory_forget', {}, ctx())).toEqual({ content: 'Unknown memory tool "memory_forget".', isError: true });
  });
});
