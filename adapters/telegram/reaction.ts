import type { Update } from 'grammy/types';
import type { InboundReaction } from '../inbound.js';

/**
 * A `message_reaction` update as an InboundReaction: the emoji the user added (Telegram sends the old
 * and the new set). Reactions by an anonymous chat (no user) and custom emoji are left out: neither
 * names a person or a plain emoji an approval could be decided by.
 */
export function normalizeReaction(update: Update, ctx: { kind: string; instance: string; platform: string }): InboundReaction | undefined {
  const r = update.message_reaction;
  if (!r?.user) return undefined;
  const emojiOf = (list: typeof r.new_reaction) => list.flatMap((t) => (t.type === 'emoji' ? [t.emoji as string] : []));
  const before = new Set(emojiOf(r.old_reaction));
  const added = emojiOf(r.new_reaction).filter((e) => !before.has(e));
  if (!added.length) return undefined;
  return {
    kind: ctx.kind,
    instance: ctx.instance,
    platform: ctx.platform,
    conversationId: String(r.chat.id),
    messageId: String(r.message_id),
    user: { id: String(r.user.id), isBot: r.user.is_bot },
    emoji: added,
  };
}
