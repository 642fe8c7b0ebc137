import { Bot, GrammyError } from 'grammy';
import type { Update, UserFromGetMe } from 'grammy/types';
import type { Logger } from '../../lib/logger.js';
import type { AdapterState, AdapterStatus, InboundAdapter, InboundEvent, InboundSink, ReactionSink } from '../inbound.js';
import { platformKey } from '../platform-key.js';
import { telegramTokenEnv, type TelegramInstanceConfig } from './config.js';
import { scrubToken, toPlatformError } from './errors.js';
import { normalizeUpdate } from './normalize.js';
import { normalizeReaction } from './reaction.js';
import { TelegramOutbound } from './outbound.js';

const KIND = 'telegram';
const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 30_000;

/**
 * One Telegram bot account, polled with getUpdates (grammY's Api against the Bot API, or the fake in
 * tests). The offset only moves past an update once the gateway has accepted it, so a dropped poll, a
 * crash or a Temporal outage re-delivers instead of losing; the channel workflow deduplicates by
 * message id, so re-delivery never doubles a message.
 */
export class TelegramAdapter implements InboundAdapter {
  readonly kind = KIND;
  readonly outbound: TelegramOutbound;
  private readonly bot: Bot;
  private readonly token: string;
  private readonly platform: string;
  private state: AdapterState = 'stopped';
  private since = new Date().toISOString();
  private lastError: string | undefined;
  private me: UserFromGetMe | undefined;
  private offset: number | undefined;
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  /** Where reactions go (approvals); without it they are not even asked for. */
  private reactions: ReactionSink | undefined;

  constructor(
    readonly instance: string,
    private readonly config: TelegramInstanceConfig,
    private readonly logger: Logger,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const tokenEnv = telegramTokenEnv(instance, config);
    const token = config.token ?? env[tokenEnv];
    if (!token) {
      throw new Error(`adapters.telegram.${instance}: no bot token; set ${tokenEnv} (or token = "..." in the table), or set enabled = false`);
    }
    this.token = token;
    this.platform = platformKey(KIND, instance);
    this.bot = new Bot(token, {
      client: {
        ...(config.api_root ? { apiRoot: config.api_root.replace(/\/$/, '') } : {}),
        // Longer than a long poll, so only a dead connection times out.
        timeoutSeconds: config.poll_timeout_seconds + 30,
      },
    });
    this.outbound = new TelegramOutbound({ platform: this.platform, api: this.bot.api, token, format: config.format, logger: this.log() });
  }

  status(): AdapterStatus {
    return {
      kind: KIND,
      instance: this.instance,
      state: this.state,
      since: this.since,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ...(this.me ? { botUser: `@${this.me.username}` } : {}),
    };
  }

  async start(sink: InboundSink, reactions?: ReactionSink): Promise<void> {
    if (this.loop) return;
    this.reactions = reactions;
    this.abort = new AbortController();
    this.setState('starting');
    const connected = await this.connect();
    this.loop = this.poll(sink, connected);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    this.loop = undefined;
    this.setState('stopped');
  }

  /** getMe once: the bot's identity is needed for mention detection, and it checks the token. */
  private async connect(): Promise<boolean> {
    try {
      this.me = await this.bot.api.getMe(this.signal());
      this.setState('connected');
      this.log().info({ botUser: `@${this.me.username}` }, 'Telegram adapter connected');
      return true;
    } catch (err) {
      this.onError(err, 'getMe');
      return false;
    }
  }

  private async poll(sink: InboundSink, connected: boolean): Promise<void> {
    let backoff = BACKOFF_START_MS;
    let ready = connected;
    while (!this.abort.signal.aborted && this.state !== 'failed') {
      if (!ready) {
        await this.pause(backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
        ready = await this.connect();
        continue;
      }
      try {
        const updates = await this.bot.api.getUpdates(
          { ...(this.offset !== undefined ? { offset: this.offset } : {}), timeout: this.config.poll_timeout_seconds, allowed_updates: this.reactions ? ['message', 'message_reaction'] : ['message'] },
          this.signal(),
        );
        if (this.state !== 'connected') this.setState('connected');
        backoff = BACKOFF_START_MS;
        const refused = await this.dispatch(updates, sink);
        if (refused) {
          await this.pause(backoff);
          backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
        }
      } catch (err) {
        if (this.abort.signal.aborted) break;
        if (this.onError(err, 'getUpdates')) break;
        await this.pause(backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
  }

  /**
   * Hands a batch to the gateway: conversations in parallel (one slow or stuck conversation does not
   * hold up the others in the batch), each conversation's messages in order. The offset then moves
   * past every update before the first one refused; later ones come again and the channel workflow
   * deduplicates those already accepted. True when something was refused.
   */
  private async dispatch(updates: Update[], sink: InboundSink): Promise<boolean> {
    const byConversation = new Map<string, { updateId: number; event: InboundEvent }[]>();
    for (const update of updates) {
      if (update.message_reaction) {
        await this.deliverReaction(update);
        continue;
      }
      const verdict = normalizeUpdate(update, { kind: KIND, instance: this.instance, platform: this.platform, bot: this.me!, filters: this.config, now: new Date() });
      if (!verdict.accept) {
        this.log().debug({ updateId: update.update_id, reason: verdict.reason }, 'Telegram update ignored');
        continue;
      }
      const list = byConversation.get(verdict.event.conversationId) ?? [];
      list.push({ updateId: update.update_id, event: verdict.event });
      byConversation.set(verdict.event.conversationId, list);
    }
    const firstRefused = await Promise.all(
      [...byConversation.values()].map(async (items) => {
        for (const item of items) if (!(await this.deliver(sink, item.event))) return item.updateId;
        return undefined;
      }),
    );
    const refusedIds = firstRefused.filter((id): id is number => id !== undefined);
    const last = updates.at(-1);
    if (refusedIds.length) this.offset = Math.min(...refusedIds);
    else if (last) this.offset = last.update_id + 1;
    return refusedIds.length > 0;
  }

  /**
   * Hands one event to the gateway. A refusal (the gateway is stopping) leaves the offset where it is,
   * so Telegram delivers the update again on the next poll, here or in the next process.
   */
  private async deliver(sink: InboundSink, event: InboundEvent): Promise<boolean> {
    try {
      await sink(event);
      return true;
    } catch (err) {
      if (!this.abort.signal.aborted) {
        this.log().warn({ messageId: event.messageId, error: scrubToken((err as Error).message, this.token) }, 'gateway did not accept the message; it will be polled again');
      }
      return false;
    }
  }

  /**
   * Hands a reaction to the gateway. It is not retried: a reaction lost to an outage is made again by
   * its user, while holding the offset back for it would hold back every message behind it.
   */
  private async deliverReaction(update: Update): Promise<void> {
    const reaction = this.reactions ? normalizeReaction(update, { kind: KIND, instance: this.instance, platform: this.platform }) : undefined;
    if (!reaction || !this.reactions) return;
    try {
      await this.reactions(reaction);
    } catch (err) {
      this.log().warn({ updateId: update.update_id, error: scrubToken((err as Error).message, this.token) }, 'gateway did not take the reaction; dropped');
    }
  }

  /** Records the error; true when it is fatal (the adapter is now failed). */
  private onError(err: unknown, method: string): boolean {
    const error = toPlatformError(this.platform, err, this.token);
    this.lastError = scrubToken(error.message, this.token);
    // A revoked token or a bot kicked from the API will not heal by retrying: say so and stop.
    const fatal = error.permanent && (error.status === 401 || error.status === 403 || error.status === 404);
    const conflict = err instanceof GrammyError && err.error_code === 409;
    if (conflict) {
      this.lastError = `${this.lastError} (another process is polling this bot, or a webhook is set: only one consumer of getUpdates is allowed)`;
    }
    this.setState(fatal ? 'failed' : 'reconnecting');
    this.log()[fatal ? 'error' : 'warn']({ method, error: this.lastError, state: this.state }, fatal ? 'Telegram adapter stopped: the Bot API refused the token' : 'Telegram poll failed; retrying');
    return fatal;
  }

  /**
   * grammY types its signals with the `abort-controller` polyfill; Node's own AbortSignal is what
   * its fetch accepts at run time, so only the static type differs.
   */
  private signal(): Parameters<Bot['api']['getMe']>[0] {
    return this.abort.signal as unknown as Parameters<Bot['api']['getMe']>[0];
  }

  private setState(state: AdapterState): void {
    if (state === this.state) return;
    this.state = state;
    this.since = new Date().toISOString();
    if (state === 'connected') this.lastError = undefined;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.abort.signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      const signal = this.abort.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }

  private log(): Logger {
    return this.logger.child({ adapter: KIND, instance: this.instance });
  }
}
