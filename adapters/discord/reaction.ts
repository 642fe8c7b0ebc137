import type { MessageReaction, PartialMessageReaction, PartialUser, User } from 'discord.js';
import type { InboundReaction } from '../inbound.js';

/**
 * A MESSAGE_REACTION_ADD as an InboundReaction. It is read from what the event itself carries (ids
 * and the emoji), so a partial reaction on a message that is not cached (an approval notice posted
 * over REST) is enough. Custom guild emoji (with an id) are left out: only plain emoji decide an
 * approval. The conversation is the channel, as for messages (a thread is its own channel).
 */
export function normalizeReaction(
  reaction: MessageReaction | PartialMessageReaction,
  user: User | PartialUser,
  ctx: { kind: string; instance: string; platform: string },
): InboundReaction | undefined {
  const { emoji } = reaction;
  if (emoji.id || !emoji.name) return undefined;
  return {
    kind: ctx.kind,
    instance: ctx.instance,
    platform: ctx.platform,
    conversationId: reaction.message.channelId,
    messageId: reaction.message.id,
    // A user not in the cache arrives partial (bot unknown): who may approve is decided by id anyway.
    user: { id: user.id, isBot: user.bot === true },
    emoji: [emoji.name],
  };
}
