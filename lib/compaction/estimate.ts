import { loadContext } from '../channel/context-store.js';
import type { ToolDefinition } from '../llm/types.js';
import type { Db } from './entries.js';
import { estimateContextTokens } from './tokens.js';

/**
 * An estimate of the context the channel's next LLM call would send: its system prompt and tools as
 * given, and the conversation exactly as loadContext builds it (summary first, then raw turns).
 */
export async function estimateChannelContext(
  db: Db,
  channelId: string,
  historyTurns: number,
  request: { system: string; tools: readonly ToolDefinition[] },
): Promise<number> {
  const row = await db.selectFrom('context_entries').select((eb) => eb.fn.max('turn_seq').as('latest')).where('channel_id', '=', channelId).executeTakeFirst();
  const summary = await db.selectFrom('context_summaries').select((eb) => eb.fn.max('through_turn').as('latest')).where('channel_id', '=', channelId).executeTakeFirst();
  const latest = Math.max(row?.latest ?? 0, summary?.latest ?? 0);
  // loadContext takes a Kysely instance; a transaction is one too.
  const messages = await loadContext(db, channelId, latest + 1, 0, historyTurns);
  return estimateContextTokens({ ...request, messages });
}
