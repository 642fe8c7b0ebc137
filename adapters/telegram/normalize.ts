import type { Message, Update, UserFromGetMe } from 'grammy/types';
import type { InboundEvent } from '../inbound.js';
import type { TelegramInstanceConfig } from './config.js';
import { encodeConversation } from './ids.js';

export type FilterVerdict = { accept: true; event: InboundEvent } | { accept: false; reason: string };

type Filters = Pick<TelegramInstanceConfig, 'allowed_chats' | 'dm_allowlist' | 'require_mention' | 'allow_bots'>;

/**
 * Turns one Telegram update into an InboundEvent, or says why it is ignored: not a new text message,
 * a chat outside `allowed_chats`, a private chat from a user outside `dm_allowlist`, a group message
 * that neither mentions the bot nor replies to it (with `require_mention`), or a bot's message.
 */
export function normalizeUpdate(
  update: Update,
  ctx: { kind: string; instance: string; platform: string; bot: UserFromGetMe; filters: Filters; now: Date },
): FilterVerdict {
  const message = update.message;
  if (!message) return { accept: false, reason: 'not a new message' };
  const text = message.text ?? message.caption;
  if (!text) return { accept: false, reason: 'no text' };
  const from = message.from;
  if (!from) return { accept: false, reason: 'no sender (channel post)' };
  const { filters } = ctx;
  if (from.is_bot && !filters.allow_bots) return { accept: false, reason: 'sent by a bot' };
  const chatId = String(message.chat.id);
  if (filters.allowed_chats.length && !filters.allowed_chats.includes(chatId)) return { accept: false, reason: 'chat not allowed' };
  const isDirect = message.chat.type === 'private';
  if (isDirect && filters.dm_allowlist.length && !filters.dm_allowlist.includes(String(from.id))) {
    return { accept: false, reason: 'user not on the DM allowlist' };
  }
  const mentioned = isDirect || mentionsBot(message, text, ctx.bot);
  if (!isDirect && filters.require_mention && !mentioned) return { accept: false, reason: 'group message without a mention' };

  const topicId = message.is_topic_message ? message.message_thread_id : undefined;
  const name = [from.first_name, from.last_name].filter(Boolean).join(' ') || from.username;
  return {
    accept: true,
    event: {
      kind: ctx.kind,
      instance: ctx.instance,
      platform: ctx.platform,
      conversationId: encodeConversation(message.chat.id, topicId),
      messageId: String(message.message_id),
      text: stripMention(text, ctx.bot),
      sender: { id: String(from.id), ...(name ? { name } : {}), isBot: from.is_bot },
      mentioned,
      coordinates: {
        chatId,
        ...(topicId !== undefined ? { threadId: String(topicId), parentChannelId: chatId } : {}),
        isDirect,
      },
      receivedAt: ctx.now.toISOString(),
    },
  };
}

function mentionsBot(message: Message, text: string, bot: UserFromGetMe): boolean {
  if (message.reply_to_message?.from?.id === bot.id) return true;
  const entities = message.entities ?? message.caption_entities ?? [];
  const handle = `@${bot.username}`.toLowerCase();
  for (const entity of entities) {
    if (entity.type === 'mention' && text.slice(entity.offset, entity.offset + entity.length).toLowerCase() === handle) return true;
    if (entity.type === 'text_mention' && entity.user.id === bot.id) return true;
  }
  // Clients do not always send entities (and tests may not): a plain "@bot" counts too.
  return new RegExp(`(^|\\s)${escapeRegExp(handle)}\\b`, 'i').test(text);
}

/** "@bot what time is it" → "what time is it": the mention addresses the bot, it is not the question. */
function stripMention(text: string, bot: UserFromGetMe): string {
  const stripped = text.replace(new RegExp(`(^|\\s)@${escapeRegExp(bot.username)}\\b[,:]?\\s*`, 'gi'), '$1').trim();
  return stripped || text;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
