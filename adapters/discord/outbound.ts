import { createHash } from 'node:crypto';
import { REST, Routes } from 'discord.js';
import type { Logger } from 'pino';
import type { OutboundAdapter, OutboundMessage, SentMessage } from '../outbound.js';
import { PlatformError } from '../platform-error.js';
import { splitMessage } from '../split.js';
import { toPlatformError } from './errors.js';

/** Discord's limit on one message's content. */
export const DISCORD_MAX_MESSAGE_CHARS = 2000;
/** Discord allows about 5 edits per 5 s per channel; one a second keeps a streamed reply under it. */
export const DISCORD_MIN_EDIT_INTERVAL_MS = 1000;
/** Discord's limit on a message nonce. */
const NONCE_CHARS = 25;

export interface DiscordOutboundOptions {
  platform: string;
  token: string;
  /** REST root without the version; default https://discord.com/api. */
  apiUrl?: string;
  logger: Logger;
}

/**
 * The Discord adapter's outbound side: plain REST (no gateway connection needed, so it runs in the
 * worker). The REST client is told to reject on rate limits instead of sleeping in memory, and not to
 * retry by itself, so Temporal's retry policy owns every wait (a crashed worker loses none of it).
 * Each posted part carries a nonce derived from the delivery key with `enforce_nonce`, so a part
 * re-posted by a retried activity comes back as the message already created instead of a duplicate.
 */
export class DiscordOutbound implements OutboundAdapter {
  readonly platform: string;
  readonly maxMessageChars = DISCORD_MAX_MESSAGE_CHARS;
  readonly minEditIntervalMs = DISCORD_MIN_EDIT_INTERVAL_MS;
  private readonly rest: REST;
  private readonly token: string;
  private readonly logger: Logger;

  constructor(options: DiscordOutboundOptions) {
    this.platform = options.platform;
    this.token = options.token;
    this.logger = options.logger;
    this.rest = new REST({
      version: '10',
      api: options.apiUrl ?? 'https://discord.com/api',
      rejectOnRateLimit: () => true,
      retries: 0,
      timeout: 15_000,
    }).setToken(options.token);
  }

  async send(message: OutboundMessage): Promise<SentMessage> {
    const channelId = channelOf(this.platform, message.conversationId);
    const parts = splitMessage(message.text, DISCORD_MAX_MESSAGE_CHARS);
    if (parts.length === 0) {
      throw new PlatformError(`${this.platform}: refusing to post an empty message (delivery ${message.deliveryKey})`, this.platform, undefined, true);
    }
    // Parts an earlier attempt posted are in the delivery's row: skipped. A part posted but not recorded
    // (the process died in between) is posted again with the same nonce, and Discord returns the original.
    const partIds: string[] = [...(message.progress?.posted ?? [])];
    for (let index = partIds.length; index < parts.length; index++) {
      const content = parts[index]!;
      const body: Record<string, unknown> = {
        content,
        nonce: nonceFor(message.deliveryKey, index),
        enforce_nonce: true,
        // Users may be pinged by name; @everyone, @here and roles never from model output.
        allowed_mentions: { parse: ['users'], replied_user: true },
      };
      if (index === 0 && message.replyTo) {
        body.message_reference = { message_id: message.replyTo, channel_id: channelId, fail_if_not_exists: false };
      }
      const posted = (await this.call('post message', () => this.rest.post(Routes.channelMessages(channelId), { body }))) as { id: string };
      partIds.push(posted.id);
      await message.progress?.record(index, posted.id);
    }
    this.logger.debug({ platform: this.platform, channelId, parts: partIds.length, deliveryKey: message.deliveryKey }, 'discord reply posted');
    return { platformMessageId: partIds[0]!, partIds };
  }

  async edit(conversationId: string, platformMessageId: string, text: string): Promise<void> {
    const channelId = channelOf(this.platform, conversationId);
    // One message holds 2,000 characters: show the first part; the final delivery posts the rest.
    const content = splitMessage(text, DISCORD_MAX_MESSAGE_CHARS)[0];
    if (!content) return;
    await this.call('edit message', () => this.rest.patch(Routes.channelMessage(channelId, platformMessageId), { body: { content } }));
  }

  async react(conversationId: string, platformMessageId: string, emoji: string): Promise<void> {
    const channelId = channelOf(this.platform, conversationId);
    await this.call('add reaction', () => this.rest.put(Routes.channelMessageOwnReaction(channelId, platformMessageId, reactionEmoji(emoji))));
  }

  /** Discord shows "typing" for about 10 s per call; the caller refreshes it while a turn runs. */
  async typing(conversationId: string): Promise<void> {
    const channelId = channelOf(this.platform, conversationId);
    await this.call('send typing', () => this.rest.post(Routes.channelTyping(channelId)));
  }

  private async call<T>(action: string, request: () => Promise<T>): Promise<T> {
    // @discordjs/rest forgets the token after any 401; set it again so one rejected call (say a
    // token rotated back) does not leave every later delivery failing with "token not set".
    this.rest.setToken(this.token);
    try {
      return await request();
    } catch (err) {
      const error = toPlatformError(this.platform, err, this.token, action);
      this.logger.warn({ platform: this.platform, action, status: error.status, permanent: error.permanent, retryAfterMs: error.retryAfterMs, err: error.message }, 'discord request failed');
      throw error;
    }
  }
}

/** Conversation ids of this adapter are the Discord channel (or thread, or DM channel) id. */
function channelOf(platform: string, conversationId: string): string {
  if (!/^\d{1,25}$/.test(conversationId)) {
    throw new PlatformError(`${platform}: conversation "${conversationId}" is not a Discord channel id (a snowflake)`, platform, undefined, true);
  }
  return conversationId;
}

/**
 * The emoji as the reactions route wants it: a unicode emoji URL-encoded, a custom emoji as
 * `name:id` (accepting the message syntax `<:name:id>` / `<a:name:id>` and a leading colon form).
 */
export function reactionEmoji(emoji: string): string {
  const trimmed = emoji.trim();
  const custom = /^(?:<a?:|:)?([\w~]{2,32}):(\d{1,25})>?$/.exec(trimmed);
  if (custom) return `${custom[1]}:${custom[2]}`;
  return encodeURIComponent(trimmed);
}

/** A nonce of at most 25 characters, stable for one part of one delivery. */
export function nonceFor(deliveryKey: string, part: number): string {
  return createHash('sha256').update(`${deliveryKey}#${part}`).digest('base64url').slice(0, NONCE_CHARS);
}
