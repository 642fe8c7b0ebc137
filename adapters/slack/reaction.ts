import type { InboundReaction } from '../inbound.js';
import { emojiFromSlackName } from './emoji.js';

/**
 * A `reaction_added` event as an InboundReaction, or undefined when it is not one on a message (files
 * and file comments can be reacted to too) or is malformed. The event names the channel and the
 * message's ts but not its thread, so the conversation is the channel, which also matches its
 * threads (`<channel>.<thread ts>`) when the gateway looks the message up.
 */
export function normaliseSlackReaction(raw: unknown, ctx: { kind: string; instance: string; platform: string; botUserId: string }): InboundReaction | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const event = raw as { type?: unknown; user?: unknown; reaction?: unknown; item?: { type?: unknown; channel?: unknown; ts?: unknown } };
  const item = event.item;
  if (event.type !== 'reaction_added' || typeof event.user !== 'string' || typeof event.reaction !== 'string') return undefined;
  if (!item || item.type !== 'message' || typeof item.channel !== 'string' || typeof item.ts !== 'string') return undefined;
  return {
    kind: ctx.kind,
    instance: ctx.instance,
    platform: ctx.platform,
    conversationId: item.channel,
    messageId: item.ts,
    // The event does not say whether the user is a bot; the bot itself is the one that matters here.
    user: { id: event.user, isBot: event.user === ctx.botUserId },
    emoji: [emojiFromSlackName(event.reaction)],
  };
}
