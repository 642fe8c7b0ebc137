import { cleanContent, MessageType, type Message } from 'discord.js';
import type { InboundEvent } from '../inbound.js';
import type { DiscordInstanceConfig } from './config.js';

/**
 * Turns one discord.js message into the gateway's InboundEvent, or says why it is ignored. Pure apart
 * from reading the message and its cached channel, so the filters are easy to reason about:
 * own messages and system messages never pass; bots only with `allow_bots`; DMs by `allow_dms` and
 * `dm_allowlist`; guild messages by `allowed_guilds`, `allowed_channels` (a thread by its own id or its
 * parent's) and `require_mention` (a mention of the bot or a reply to one of its messages).
 *
 * One conversation = one Discord channel: a guild channel, a thread (its own channel id) or a DM
 * channel. Channel and message ids are snowflakes, which already fit the workflow id pattern.
 */

export type Filters = Pick<DiscordInstanceConfig, 'allowed_guilds' | 'allowed_channels' | 'allow_dms' | 'dm_allowlist' | 'require_mention' | 'allow_bots'>;

export interface NormalizeContext {
  kind: string;
  instance: string;
  platform: string;
  botUserId: string;
  filters: Filters;
}

export type Normalized = { event: InboundEvent } | { ignored: string };

const CONVERSATIONAL = new Set<MessageType>([MessageType.Default, MessageType.Reply]);

export function normalizeMessage(message: Message, ctx: NormalizeContext): Normalized {
  const { filters, botUserId } = ctx;
  if (message.author.id === botUserId) return { ignored: 'own message' };
  if (!CONVERSATIONAL.has(message.type)) return { ignored: `system message (type ${message.type})` };
  if (message.author.bot && !filters.allow_bots) return { ignored: 'message from a bot (allow_bots is off)' };

  const channel = message.channel;
  const isDirect = !message.guildId;
  const mentioned = message.mentions.users.has(botUserId) || message.mentions.repliedUser?.id === botUserId;
  const isThread = channel.isThread();
  const parentChannelId = isThread ? (channel.parentId ?? undefined) : undefined;

  if (isDirect) {
    if (!filters.allow_dms) return { ignored: 'direct message (allow_dms is off)' };
    if (filters.dm_allowlist.length > 0 && !filters.dm_allowlist.includes(message.author.id)) return { ignored: 'direct message from a user not in dm_allowlist' };
  } else {
    if (filters.allowed_guilds.length > 0 && !filters.allowed_guilds.includes(message.guildId!)) return { ignored: 'guild not in allowed_guilds' };
    if (filters.allowed_channels.length > 0 && !filters.allowed_channels.includes(channel.id) && !(parentChannelId && filters.allowed_channels.includes(parentChannelId))) {
      return { ignored: 'channel not in allowed_channels' };
    }
    if (filters.require_mention && !mentioned) return { ignored: 'bot not mentioned (require_mention)' };
  }

  const text = messageText(message, botUserId);
  if (!text) return { ignored: 'no text' };

  return {
    event: {
      kind: ctx.kind,
      instance: ctx.instance,
      platform: ctx.platform,
      conversationId: channel.id,
      messageId: message.id,
      text,
      sender: { id: message.author.id, name: message.member?.displayName ?? message.author.globalName ?? message.author.username, isBot: message.author.bot },
      mentioned,
      coordinates: {
        guildId: message.guildId ?? undefined,
        channelId: channel.id,
        threadId: isThread ? channel.id : undefined,
        parentChannelId,
        isDirect,
      },
      receivedAt: new Date(message.createdTimestamp || Date.now()).toISOString(),
    },
  };
}

/**
 * The text the agent reads: the bot's own mention removed (it is how users address it, not content),
 * other mentions made readable (@name, #channel), attachments listed by name and URL.
 */
export function messageText(message: Message, botUserId: string): string {
  const withoutBot = message.content.replace(new RegExp(`<@!?${botUserId}>`, 'g'), ' ').replace(/[ \t]{2,}/g, ' ').trim();
  const readable = withoutBot ? cleanContent(withoutBot, message.channel) : '';
  const attachments = [...message.attachments.values()].map((a) => `[attachment: ${a.name} ${a.url}]`);
  return [readable, ...attachments].filter(Boolean).join('\n');
}
