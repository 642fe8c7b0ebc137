import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { putEntry } from '../../lib/channel/context-store.js';
import type { StoredEntry } from '../../lib/compaction/entries.js';
import type { Database } from '../../lib/db/schema.js';
import type { ChatMessage, ToolResultPart } from '../../lib/llm/types.js';

/** One LLM call of a crafted turn: its text and tool calls, each with the result stored after it. */
export interface StepSpec {
  text?: string;
  calls?: { id: string; name: string; result: string }[];
}

export interface TurnSpec {
  user: string;
  steps: StepSpec[];
}

/** The rows a turn writes, positioned as the channel workflow does (inbound at step 0, call n at (n, 0), results at (n, 1+i)). */
export function turnEntries(turnSeq: number, spec: TurnSpec): StoredEntry[] {
  const createdAt = new Date().toISOString();
  const rows: StoredEntry[] = [{ turnSeq, step: 0, idx: 0, role: 'user', content: { role: 'user', parts: [{ type: 'text', text: spec.user }] }, createdAt }];
  spec.steps.forEach((s, i) => {
    const step = i + 1;
    const assistant: ChatMessage = {
      role: 'assistant',
      parts: [...(s.text ? [{ type: 'text' as const, text: s.text }] : []), ...(s.calls ?? []).map((c) => ({ type: 'tool_call' as const, id: c.id, name: c.name, input: { q: c.result.slice(0, 5) } }))],
    };
    rows.push({ turnSeq, step, idx: 0, role: 'assistant', content: assistant, createdAt });
    (s.calls ?? []).forEach((c, j) => {
      const result: ToolResultPart = { type: 'tool_result', toolCallId: c.id, content: c.result };
      rows.push({ turnSeq, step, idx: 1 + j, role: 'tool', content: result, createdAt });
    });
  });
  return rows;
}

/** A turn with a tool round trip (call, result, then the answer), the shape compaction must keep whole. */
export function toolTurn(turnSeq: number, size = 40): TurnSpec {
  return {
    user: `question ${turnSeq} ${'q'.repeat(size)}`,
    steps: [{ calls: [{ id: `call-${turnSeq}-a`, name: 'lookup', result: `result ${turnSeq} ${'r'.repeat(size)}` }] }, { text: `answer ${turnSeq}` }],
  };
}

export function plainTurn(turnSeq: number, size = 40): TurnSpec {
  return { user: `hello ${turnSeq} ${'h'.repeat(size)}`, steps: [{ text: `hi ${turnSeq}` }] };
}

export async function createChannel(db: Kysely<Database>): Promise<{ agentId: string; channelId: string }> {
  const agentId = `cmp-${randomUUID().slice(0, 8)}`;
  const channelId = `channel:${agentId}:webhook:c1`;
  await db.insertInto('agents').values({ id: agentId, name: agentId }).onConflict((oc) => oc.column('id').doNothing()).execute();
  await db.insertInto('channels').values({ id: channelId, agent_id: agentId, platform: 'webhook', conversation_id: 'c1' }).execute();
  return { agentId, channelId };
}

export async function writeTurn(db: Kysely<Database>, channelId: string, turnSeq: number, spec: TurnSpec): Promise<StoredEntry[]> {
  const rows = turnEntries(turnSeq, spec);
  for (const r of rows) await putEntry(db, { channelId, turnSeq: r.turnSeq, step: r.step, idx: r.idx }, r.role, r.content);
  return rows;
}

export async function contextRows(db: Kysely<Database>, channelId: string): Promise<{ turn_seq: number; step: number; idx: number }[]> {
  return db.selectFrom('context_entries').select(['turn_seq', 'step', 'idx']).where('channel_id', '=', channelId).orderBy('turn_seq').orderBy('step').orderBy('idx').execute();
}
