import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { ChatMessage, ContentPart, ToolResultPart } from '../llm/types.js';
import { latestSummary, summaryMessage } from '../compaction/summaries.js';

/**
 * A channel's LLM context lives in Postgres, addressed by the workflow's position: (turn, step, idx).
 * Step 0 holds the turn's inbound messages; LLM call n writes its answer at (turn, n, 0) and the
 * results of its tool calls at (turn, n, 1 + call index). An LLM call reads everything before its own
 * position, so a retried or reset call sees exactly what the workflow had seen.
 */

export type EntryRole = 'user' | 'assistant' | 'tool';

export interface EntryPosition {
  channelId: string;
  turnSeq: number;
  step: number;
  idx: number;
}

export async function putEntry(db: Kysely<Database>, at: EntryPosition, role: EntryRole, content: ChatMessage | ToolResultPart): Promise<void> {
  await db
    .insertInto('context_entries')
    .values({ channel_id: at.channelId, turn_seq: at.turnSeq, step: at.step, idx: at.idx, role, content: JSON.stringify(content) })
    // A retried activity writes the same position again; the newest attempt wins.
    .onConflict((oc) => oc.columns(['channel_id', 'turn_seq', 'step', 'idx']).doUpdateSet({ role, content: JSON.stringify(content) }))
    .execute();
}

/**
 * The context an LLM call at (turnSeq, step) sees: the latest compaction summary of turns before it (if
 * any, see lib/compaction/), then the raw turns after that summary, at most the last `historyTurns`
 * turns, up to its position.
 */
export async function loadContext(db: Kysely<Database>, channelId: string, turnSeq: number, step: number, historyTurns: number): Promise<ChatMessage[]> {
  const summary = await latestSummary(db, channelId, turnSeq);
  const rows = await db
    .selectFrom('context_entries')
    .select(['turn_seq', 'step', 'idx', 'role', 'content'])
    .where('channel_id', '=', channelId)
    .where('turn_seq', '>', summary ? Math.max(turnSeq - historyTurns, summary.throughTurn) : turnSeq - historyTurns)
    .where(sql<boolean>`(turn_seq, step) < (${turnSeq}, ${step})`)
    .orderBy('turn_seq')
    .orderBy('step')
    .orderBy('idx')
    .execute();
  const messages: ChatMessage[] = summary ? [summaryMessage(summary)] : [];
  for (const row of rows) {
    const content = row.content as ChatMessage | ToolResultPart;
    if (row.role === 'tool') messages.push({ role: 'user', parts: [content as ToolResultPart] });
    else messages.push(content as ChatMessage);
  }
  return normaliseConversation(messages);
}

/**
 * Makes a stored sequence acceptable to every provider: merges consecutive same-role messages,
 * starts with a user message, and gives every tool call a result (a turn that failed mid-tool leaves
 * a call unanswered; providers reject that).
 */
export function normaliseConversation(input: ChatMessage[]): ChatMessage[] {
  const merged: ChatMessage[] = [];
  for (const message of input) {
    const prev = merged[merged.length - 1];
    if (prev && prev.role === message.role) prev.parts = [...prev.parts, ...message.parts];
    else merged.push({ role: message.role, parts: [...message.parts] });
  }
  while (merged.length && merged[0]?.role !== 'user') merged.shift();
  for (let i = 0; i < merged.length; i++) {
    const message = merged[i];
    if (!message || message.role !== 'assistant') continue;
    const calls = message.parts.filter((p) => p.type === 'tool_call');
    if (!calls.length) continue;
    let next = merged[i + 1];
    if (!next || next.role !== 'user') {
      next = { role: 'user', parts: [] };
      merged.splice(i + 1, 0, next);
    }
    const answered = new Set(next.parts.flatMap((p) => (p.type === 'tool_result' ? [p.toolCallId] : [])));
    const missing: ContentPart[] = calls
      .filter((c) => !answered.has(c.id))
      .map((c) => ({ type: 'tool_result', toolCallId: c.id, content: 'No result: the tool call did not complete.', isError: true }));
    // Providers want tool results before any new text in the user message.
    const results = next.parts.filter((p) => p.type === 'tool_result');
    const rest = next.parts.filter((p) => p.type !== 'tool_result');
    next.parts = [...results, ...missing, ...rest];
  }
  // A trailing user message made only of tool results is valid; an empty one is not.
  return merged.filter((m) => m.parts.length > 0);
}
