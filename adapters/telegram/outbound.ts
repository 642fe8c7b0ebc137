import type { Api } from 'grammy';
import type { ReactionTypeEmoji } from 'grammy/types';
import type { Logger } from '../../lib/logger.js';
import type { OutboundAdapter, OutboundMessage, SentMessage } from '../outbound.js';
import { PlatformError } from '../platform-error.js';
import { splitMessage } from '../split.js';
import { isEntityParseError, toPlatformError } from './errors.js';
import { markdownToTelegramHtml } from './format.js';
import { decodeConversation, decodeMessageId } from './ids.js';

/** Telegram's limit on a message's text (after entity parsing). */
export const TELEGRAM_MAX_CHARS = 4096;

export interface TelegramOutboundOptions {
  platform: string;
  api: Api;
  token: string;
  format: 'html' | 'plain';
  logger: Logger;
}

/**
 * Telegram's outbound side: sendMessage (split at 4,096, each part replying to the triggering message
 * and rendered as HTML on its own), editMessageText for streamed replies, setMessageReaction, and the
 * "typing" chat action (which Telegram shows for about five seconds; the caller refreshes it).
 */
export class TelegramOutbound implements OutboundAdapter {
  readonly platform: string;
  readonly maxMessageChars = TELEGRAM_MAX_CHARS;
  /** Telegram tolerates about one edit per second per chat before answering 429. */
  readonly minEditIntervalMs = 1000;
  constructor(private readonly options: TelegramOutboundOptions) {
    this.platform = options.platform;
  }

  async send(message: OutboundMessage): Promise<SentMessage> {
    const target = decodeConversation(message.conversationId);
    const parts = splitMessage(message.text, TELEGRAM_MAX_CHARS);
    if (parts.length === 0) throw new PlatformError(`${this.platform}: refusing to send an empty message`, this.platform, 400, true);
    // Parts an earlier attempt (maybe on another worker) posted are in the delivery's row: skipped.
    const posted = [...(message.progress?.posted ?? [])];
    const replyTo = message.replyTo ? safeMessageId(message.replyTo) : undefined;
    for (let index = posted.length; index < parts.length; index++) {
      const sent = await this.call(() =>
        this.postText(target.chatId, parts[index]!, {
          ...(target.topicId ? { message_thread_id: target.topicId } : {}),
          // Only the first part answers the message; the rest follow it.
          ...(index === 0 && replyTo ? { reply_parameters: { message_id: replyTo, allow_sending_without_reply: true } } : {}),
        }),
      );
      posted.push(String(sent));
      await message.progress?.record(index, String(sent));
    }
    const ids = posted;
    return { platformMessageId: ids[0]!, ...(ids.length > 1 ? { partIds: ids } : {}) };
  }

  async edit(conversationId: string, platformMessageId: string, text: string): Promise<void> {
    const { chatId } = decodeConversation(conversationId);
    const messageId = decodeMessageId(platformMessageId);
    // An edit replaces one message: keep the first part; the final delivery posts the rest.
    const [first] = splitMessage(text, TELEGRAM_MAX_CHARS);
    if (!first) return;
    await this.call(async () => {
      try {
        await this.withFormat(first, (body, extra) => this.options.api.editMessageText(chatId, messageId, body, extra));
      } catch (err) {
        // Telegram refuses an edit that changes nothing; the message already shows this text.
        if (err instanceof Error && /message is not modified/i.test(err.message)) return;
        throw err;
      }
    });
  }

  async react(conversationId: string, platformMessageId: string, emoji: string): Promise<void> {
    const { chatId } = decodeConversation(conversationId);
    const reaction: ReactionTypeEmoji = { type: 'emoji', emoji: emoji as ReactionTypeEmoji['emoji'] };
    await this.call(() => this.options.api.setMessageReaction(chatId, decodeMessageId(platformMessageId), [reaction]));
  }

  async typing(conversationId: string): Promise<void> {
    const target = decodeConversation(conversationId);
    await this.call(() => this.options.api.sendChatAction(target.chatId, 'typing', target.topicId ? { message_thread_id: target.topicId } : {}));
  }

  private async postText(chatId: number, text: string, extra: Record<string, unknown>): Promise<number> {
    const sent = await this.withFormat(text, (body, format) => this.options.api.sendMessage(chatId, body, { ...extra, ...format }));
    return sent.message_id;
  }

  /** Sends as HTML; if Telegram cannot parse the entities, sends the Markdown as plain text instead. */
  private async withFormat<T>(markdown: string, post: (body: string, extra: { parse_mode?: 'HTML' }) => Promise<T>): Promise<T> {
    if (this.options.format === 'plain') return post(markdown, {});
    try {
      return await post(markdownToTelegramHtml(markdown), { parse_mode: 'HTML' });
    } catch (err) {
      if (!isEntityParseError(err)) throw err;
      this.options.logger.warn({ platform: this.platform }, 'Telegram refused the rendered HTML; sending the text unformatted');
      return post(markdown, {});
    }
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toPlatformError(this.platform, err, this.options.token);
    }
  }
}

function safeMessageId(id: string): number | undefined {
  try {
    return decodeMessageId(id);
  } catch {
    return undefined;
  }
}
