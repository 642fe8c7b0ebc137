import { sql, type RawBuilder } from 'kysely';
import type { RecallContext } from './model.js';

/**
 * SQL: the `memories` row is visible in `ctx`: agent-wide memories, this user's and this chat's (no
 * user or chat in `ctx` sees none of those). The rule itself is memory_visible() in
 * migrations/011_recall_indexes.sql, which the hybrid recall functions apply too, so scope isolation
 * is written once. The planner inlines it.
 */
export function visibleIn(ctx: RecallContext | undefined): RawBuilder<boolean> {
  return sql<boolean>`memory_visible(memories.scope_kind, memories.scope_id, ${ctx?.userId || null}::text, ${ctx?.chatId || null}::text)`;
}
