import { loadContext, putEntry } from '../../lib/channel/context-store.js';
import { applySummary } from '../../lib/compaction/apply.js';
import { archiveTurns, readArchive } from '../../lib/compaction/archive.js';
import { readEntries } from '../../lib/compaction/entries.js';
import { forkSummary } from '../../lib/compaction/fork.js';
import { chooseCompactionRange } from '../../lib/compaction/plan.js';
import { truncateOldestTurns } from '../../lib/compaction/truncate.js';
import type { ChatMessage } from '../../lib/llm/types.js';
import { backends, openTestDb, type TestDb } from '../memory/db.js';
import { contextRows, createChannel, plainTurn, toolTurn, writeTurn } from './fixtures.js';

/** Every tool call in a conversation has its result in the next message, and every result its call. */
function expectToolPairsWhole(messages: ChatMessage[]): void {
  messages.forEach((m, i) => {
    const results = m.parts.flatMap((p) => (p.type === 'tool_result' ? [p.toolCallId] : []));
    const previousCalls = (messages[i - 1]?.parts ?? []).flatMap((p) => (p.type === 'tool_call' ? [p.id] : []));
    for (const id of results) expect(previousCalls).toContain(id);
    const calls = m.parts.flatMap((p) => (p.type === 'tool_call' ? [p.id] : []));
    const nextResults = (messages[i + 1]?.parts ?? []).flatMap((p) => (p.type === 'tool_result' ? [p.toolCallId] : []));
    for (const id of calls) expect(nextResults).toContain(id);
  });
}

const textOf = (m: ChatMessage | undefined) => (m?.parts ?? []).flatMap((p) => (p.type === 'text' ? [p.text] : [])).join('\n');

describe.each(backends)('compaction storage on $name', (backend) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb(backend);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** A channel with `n` finished turns, odd ones with a tool round trip. */
  async function channelWithTurns(n: number) {
    const ch = await createChannel(t.db);
    for (let turn = 1; turn <= n; turn++) await writeTurn(t.db, ch.channelId, turn, turn % 2 ? toolTurn(turn) : plainTurn(turn));
    return ch;
  }

  async function plan(channelId: string, fraction: number, eligibleThrough: number, historyTurns = 40) {
    const entries = await readEntries(t.db, channelId, -1);
    const range = chooseCompactionRange({ entries, fraction, eligibleThrough, historyTurns });
    if (!range) throw new Error('expected a range');
    return range;
  }

  test('the archive holds the raw rows of exactly the planned turns', async () => {
    const { channelId } = await channelWithTurns(10);
    const range = await plan(channelId, 0.3, 10);
    const before = await readEntries(t.db, channelId, 0, 3);
    const archived = await archiveTurns(t.db, channelId, range.fromTurn, range.throughTurn, 'summarise');
    expect(archived).toMatchObject({ entryCount: 10, turnCount: 3 });
    const row = await readArchive(t.db, archived.archiveId);
    expect(row).toMatchObject({ channelId, fromTurn: 1, throughTurn: 3, reason: 'summarise' });
    expect(row?.entries).toEqual(before);
    // Archiving alone changes nothing in the context.
    expect(await contextRows(t.db, channelId)).toHaveLength(30);
    // A retried archive rewrites its row rather than adding one.
    const again = await archiveTurns(t.db, channelId, 1, 3, 'summarise');
    expect(again.archiveId).toBe(archived.archiveId);
  });

  test('the swap replaces exactly the planned turns, keeps later ones (also those added meanwhile), and loadContext starts with the summary', async () => {
    const { channelId } = await channelWithTurns(10);
    const range = await plan(channelId, 0.3, 10);
    const archived = await archiveTurns(t.db, channelId, range.fromTurn, range.throughTurn, 'summarise');
    // The channel keeps answering while the summary is written.
    await writeTurn(t.db, channelId, 11, toolTurn(11));
    const applied = await applySummary(t.db, { channelId, archiveId: archived.archiveId, content: 'SUMMARY ONE: they talked about lookups.', model: 'fake/m', compactionKey: `k-${channelId}-1` });
    expect(applied).toMatchObject({ outcome: 'applied', fromTurn: 1, throughTurn: 3, entriesRemoved: 10, archiveRewritten: 0 });
    const rows = await contextRows(t.db, channelId);
    expect(Math.min(...rows.map((r) => r.turn_seq))).toBe(4);
    expect(new Set(rows.map((r) => r.turn_seq)).size).toBe(8);
    const summaries = await t.db.selectFrom('context_summaries').selectAll().where('channel_id', '=', channelId).execute();
    expect(summaries).toEqual([expect.objectContaining({ kind: 'summary', from_turn: 1, through_turn: 3, archive_id: archived.archiveId, model: 'fake/m', previous_id: null })]);

    const context = await loadContext(t.db, channelId, 12, 0, 40);
    expect(context[0]?.role).toBe('user');
    expect(textOf(context[0])).toMatch(/^\[Earlier in this conversation \(turns 1–3\)[^\n]*\]\n\nSUMMARY ONE/);
    // Turn 4's inbound follows the summary in the same user message; turn 3 is gone.
    expect(textOf(context[0])).toContain('hello 4');
    expect(JSON.stringify(context)).not.toContain('question 3');
    expect(JSON.stringify(context)).toContain('answer 11');
    expectToolPairsWhole(context);

    // A call inside a compacted turn (a reset) does not see a summary of its own future.
    const early = await loadContext(t.db, channelId, 3, 1, 40);
    expect(JSON.stringify(early)).not.toContain('SUMMARY ONE');

    // A retry after the commit finds its row; an older plan is superseded by the newer summary.
    const retry = await applySummary(t.db, { channelId, archiveId: archived.archiveId, content: 'x', model: 'fake/m', compactionKey: `k-${channelId}-1` });
    expect(retry.outcome).toBe('already_applied');
    const stale = await archiveTurns(t.db, channelId, 1, 2, 'summarise');
    const superseded = await applySummary(t.db, { channelId, archiveId: stale.archiveId, content: 'x', model: 'fake/m', compactionKey: `k-${channelId}-2` });
    expect(superseded.outcome).toBe('superseded');
    expect(await contextRows(t.db, channelId)).toEqual(rows);
  });

  test('a second summary replaces the first and the historyTurns bound still applies to raw turns', async () => {
    const { channelId } = await channelWithTurns(10);
    const first = await archiveTurns(t.db, channelId, 1, 3, 'summarise');
    await applySummary(t.db, { channelId, archiveId: first.archiveId, content: 'FIRST', model: 'fake/m', compactionKey: `k-${channelId}-a` });
    const entries = await readEntries(t.db, channelId, 3);
    const range = chooseCompactionRange({ entries, fraction: 0.5, eligibleThrough: 10, historyTurns: 40 });
    expect(range).toMatchObject({ fromTurn: 4, throughTurn: 7 });
    const second = await archiveTurns(t.db, channelId, 4, 7, 'summarise');
    const applied = await applySummary(t.db, { channelId, archiveId: second.archiveId, content: 'SECOND (includes FIRST)', model: 'fake/m', compactionKey: `k-${channelId}-b` });
    expect(applied.outcome).toBe('applied');
    const latest = await t.db.selectFrom('context_summaries').selectAll().where('channel_id', '=', channelId).orderBy('through_turn', 'desc').executeTakeFirstOrThrow();
    expect(latest).toMatchObject({ from_turn: 1, through_turn: 7 });
    const context = await loadContext(t.db, channelId, 11, 0, 40);
    expect(textOf(context[0])).toContain('(turns 1–7)');
    expect(JSON.stringify(context)).not.toContain('FIRST"');
    expect(JSON.stringify(context)).toContain('hello 8');
    // historyTurns = 3 from turn 11 (which counts itself): raw turns 9 and 10 only, after the summary.
    const bounded = await loadContext(t.db, channelId, 11, 0, 3);
    expect(textOf(bounded[0])).toContain('SECOND');
    expect(JSON.stringify(bounded)).not.toContain('hello 8');
    expect(JSON.stringify(bounded)).toContain('question 9');
    expectToolPairsWhole(bounded);
  });

  test('rows rewritten after archiving are archived before the swap removes them', async () => {
    const { channelId } = await channelWithTurns(4);
    const archived = await archiveTurns(t.db, channelId, 1, 2, 'summarise');
    await putEntry(t.db, { channelId, turnSeq: 2, step: 1, idx: 0 }, 'assistant', { role: 'assistant', parts: [{ type: 'text', text: 'rewritten by a retry' }] });
    const applied = await applySummary(t.db, { channelId, archiveId: archived.archiveId, content: 'S', model: 'fake/m', compactionKey: `k-${channelId}` });
    expect(applied.archiveRewritten).toBe(1);
    const row = await readArchive(t.db, archived.archiveId);
    expect(JSON.stringify(row?.entries)).toContain('rewritten by a retry');
    expect(row?.entries).toHaveLength(6);
  });

  test('truncation drops the oldest half at once, archives it and leaves a marker', async () => {
    const { channelId } = await channelWithTurns(8);
    const before = await readEntries(t.db, channelId, 0, 4);
    const out = await truncateOldestTurns(t.db, { channelId, fraction: 0.5, eligibleThrough: 8, historyTurns: 40, compactionKey: `t-${channelId}-1` });
    expect(out).toMatchObject({ outcome: 'truncated', fromTurn: 1, throughTurn: 4, turnsRemoved: 4, entriesRemoved: before.length });
    expect(Math.min(...(await contextRows(t.db, channelId)).map((r) => r.turn_seq))).toBe(5);
    const archive = await readArchive(t.db, out.archiveId ?? '');
    expect(archive).toMatchObject({ reason: 'truncate', fromTurn: 1, throughTurn: 4 });
    expect(archive?.entries).toEqual(before);
    const marker = await t.db.selectFrom('context_summaries').selectAll().where('channel_id', '=', channelId).executeTakeFirstOrThrow();
    expect(marker).toMatchObject({ kind: 'truncation', through_turn: 4, model: null });
    expect(marker.content).toMatch(/Turns 1–4 were removed without a summary/);

    const context = await loadContext(t.db, channelId, 9, 0, 40);
    expect(textOf(context[0])).toContain('Turns 1–4 were removed');
    expect(JSON.stringify(context)).not.toContain('hello 4');
    expect(JSON.stringify(context)).toContain('question 5');
    expectToolPairsWhole(context);

    // The same activity retried does not drop another half.
    const retry = await truncateOldestTurns(t.db, { channelId, fraction: 0.5, eligibleThrough: 8, historyTurns: 40, compactionKey: `t-${channelId}-1` });
    expect(retry).toMatchObject({ outcome: 'already_truncated', throughTurn: 4, turnsRemoved: 0 });
    expect(Math.min(...(await contextRows(t.db, channelId)).map((r) => r.turn_seq))).toBe(5);
  });

  test('a truncation after a summary keeps the summary text ahead of its marker', async () => {
    const { channelId } = await channelWithTurns(9);
    const archived = await archiveTurns(t.db, channelId, 1, 3, 'summarise');
    await applySummary(t.db, { channelId, archiveId: archived.archiveId, content: 'KEEP ME', model: 'fake/m', compactionKey: `k-${channelId}` });
    const out = await truncateOldestTurns(t.db, { channelId, fraction: 0.5, eligibleThrough: 9, historyTurns: 40, compactionKey: `t-${channelId}` });
    // Six raw turns (4..9) remain: half of them, 4..6, go.
    expect(out).toMatchObject({ outcome: 'truncated', fromTurn: 4, throughTurn: 6, turnsRemoved: 3 });
    const context = await loadContext(t.db, channelId, 10, 0, 40);
    expect(textOf(context[0])).toMatch(/\(turns 1–6\)[\s\S]*KEEP ME[\s\S]*Turns 4–6 were removed/);
    expect(JSON.stringify(context)).toContain('question 7');
  });

  test('a fork of a compacted channel starts with its summary', async () => {
    const { agentId, channelId } = await channelWithTurns(6);
    const archived = await archiveTurns(t.db, channelId, 1, 3, 'summarise');
    await applySummary(t.db, { channelId, archiveId: archived.archiveId, content: 'FORKED SUMMARY', model: 'fake/m', compactionKey: `k-${channelId}` });
    const branchId = `${channelId}:branch`;
    await t.db.insertInto('channels').values({ id: branchId, agent_id: agentId, platform: 'webhook', conversation_id: 'c1-branch' }).execute();
    for (const r of await readEntries(t.db, channelId, 3, 5)) await putEntry(t.db, { channelId: branchId, turnSeq: r.turnSeq, step: r.step, idx: r.idx }, r.role, r.content);
    const id = await forkSummary(t.db, channelId, branchId, 5);
    expect(await forkSummary(t.db, channelId, branchId, 5)).toBe(id);
    const context = await loadContext(t.db, branchId, 6, 0, 40);
    expect(textOf(context[0])).toContain('FORKED SUMMARY');
    expect(JSON.stringify(context)).toContain('question 5');
    expect(await forkSummary(t.db, channelId, `${channelId}:early`, 2)).toBeUndefined();
  });

  test('nothing to truncate when no completed turn is left', async () => {
    const { channelId } = await channelWithTurns(1);
    const out = await truncateOldestTurns(t.db, { channelId, fraction: 0.5, eligibleThrough: 0, historyTurns: 40, compactionKey: `t-${channelId}` });
    expect(out).toMatchObject({ outcome: 'nothing_to_truncate', turnsRemoved: 0 });
    expect(await contextRows(t.db, channelId)).toHaveLength(4);
  });
});
