import { webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import type { OutboundAdapter, OutboundMessage, SentMessage } from '../outbound.js';
import { PlatformError } from '../platform-error.js';
import { splitMessage } from '../split.js';
import { decodeConversation, isDirectChannel } from './conversation.js';
import { slackEmojiName } from './emoji.js';
import { toPlatformError } from './errors.js';
import { toSlackMrkdwn } from './format.js';
import { RecentMap } from './recent.js';
import { slackLogger } from './slack-logger.js';
import type { Scrubber } from './scrub.js';

export interface SlackOutboundOptions {
  /** Channel workflows' platform key of this instance (adapters/platform-key.ts). */
  platform: string;
  botToken: string;
  apiUrl: string;
  maxMessageChars: number;
  minEditIntervalMs: number;
  statusText: string;
  logger: Logger;
  scrub: Scrubber;
}

/**
 * Slack's outbound side: posts replies with chat.postMessage (into the thread they answer), edits
 * streamed replies with chat.update, reacts with reactions.add and shows the assistant-thread status.
 *
 * The delivery activity owns retries: the Web API client never retries or waits out a 429 itself
 * (`retries: 0`, `rejectRateLimitedCalls`); every failure becomes a PlatformError carrying Slack's
 * retry-after, or `permanent` for a bad token, a missing permission or an unknown channel.
 */
export class SlackOutbound implements OutboundAdapter {
  readonly platform: string;
  readonly maxMessageChars: number;
  readonly minEditIntervalMs: number;
  private readonly client: webApi.WebClient;
  /** Conversations where Slack refused an assistant status (not an assistant thread): no more attempts. */
  private readonly statusUnsupported = new RecentMap<string, true>(10_000);

  constructor(private readonly options: SlackOutboundOptions) {
    this.platform = options.platform;
    this.maxMessageChars = options.maxMessageChars;
    this.minEditIntervalMs = options.minEditIntervalMs;
    this.client = new webApi.WebClient(options.botToken, {
      slackApiUrl: options.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      logger: slackLogger(options.logger.child({ component: 'slack-web-api' }), options.scrub),
    });
  }

  async send(message: OutboundMessage): Promise<SentMessage> {
    const { channel, threadTs } = decodeConversation(message.conversationId);
    const parts = splitMessage(toSlackMrkdwn(message.text), this.maxMessageChars);
    if (parts.length === 0) throw new PlatformError('Slack: refusing to post an empty message', this.platform, 400, true);
    // Parts an earlier attempt (maybe on another worker) posted are in the delivery's row: when part 2
    // of 3 hit a 429, the retry continues with part 2 instead of posting part 1 again.
    const posted = [...(message.progress?.posted ?? [])];
    for (let i = posted.length; i < parts.length; i++) {
      const result = await this.call('chat.postMessage', () =>
        this.client.chat.postMessage({ channel, text: parts[i]!, thread_ts: threadTs, mrkdwn: true }),
      );
      if (!result.ts) throw new PlatformError('Slack chat.postMessage returned no ts', this.platform, undefined, false);
      posted.push(result.ts);
      await message.progress?.record(i, result.ts);
    }
    this.options.logger.debug({ channel, threadTs, parts: posted.length, deliveryKey: message.deliveryKey }, 'slack reply posted');
    return posted.length > 1 ? { platformMessageId: posted[0]!, partIds: posted } : { platformMessageId: posted[0]! };
  }

  async edit(conversationId: string, platformMessageId: string, text: string): Promise<void> {
    const { channel } = decodeConversation(conversationId);
    // A streamed text past one message's limit is cut here; the final delivery posts the rest.
    const first = splitMessage(toSlackMrkdwn(text), this.maxMessageChars)[0];
    if (!first) return;
    await this.call('chat.update', () => this.client.chat.update({ channel, ts: platformMessageId, text: first }));
  }

  async react(conversationId: string, platformMessageId: string, emoji: string): Promise<void> {
    const { channel } = decodeConversation(conversationId);
    const name = slackEmojiName(emoji);
    try {
      await this.call('reactions.add', () => this.client.reactions.add({ channel, timestamp: platformMessageId, name }));
    } catch (err) {
      // Reacting twice (a retried activity) is the outcome we wanted.
      if (err instanceof PlatformError && err.message.includes('already_reacted')) return;
      throw err;
    }
  }

  /**
   * Slack has no typing indicator for bots; the closest is the status line of an assistant thread
   * (a thread in the app's DM), cleared by Slack when the reply is posted. Elsewhere this does nothing.
   */
  async typing(conversationId: string): Promise<void> {
    const { channel, threadTs } = decodeConversation(conversationId);
    if (!threadTs || !isDirectChannel(channel) || this.statusUnsupported.has(conversationId)) return;
    try {
      await this.call('assistant.threads.setStatus', () =>
        this.client.assistant.threads.setStatus({ channel_id: channel, thread_ts: threadTs, status: this.options.statusText }),
      );
    } catch (err) {
      // Not an assistant thread, or the app lacks the assistant feature: fall back to nothing, quietly.
      // A bad token is still reported, since every other call would fail too.
      if (err instanceof PlatformError && err.permanent && err.status !== 401) {
        this.statusUnsupported.set(conversationId, true);
        this.options.logger.debug({ conversationId, reason: err.message }, 'slack assistant status unavailable here');
        return;
      }
      throw err;
    }
  }

  private async call<T>(method: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      const error = toPlatformError(this.platform, method, err, this.options.scrub);
      const level = error.permanent ? 'warn' : 'info';
      this.options.logger[level]({ method, status: error.status, retryAfterMs: error.retryAfterMs, permanent: error.permanent, err: error.message }, 'slack api call failed');
      throw error;
    }
  }
}
