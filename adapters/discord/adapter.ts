import { Client, Events, GatewayIntentBits, Partials, type Message } from 'discord.js';
import type { Logger } from 'pino';
import type { AdapterState, AdapterStatus, InboundAdapter, InboundSink, ReactionSink } from '../inbound.js';
import { platformKey } from '../platform-key.js';
import { resolveDiscordToken, type DiscordInstanceConfig } from './config.js';
import { scrubToken } from './errors.js';
import { normalizeMessage } from './normalize.js';
import { DiscordOutbound } from './outbound.js';
import { normalizeReaction } from './reaction.js';

export const DISCORD_KIND = 'discord';

/** What the bot needs to read messages in guild channels, threads and DMs (MessageContent is privileged). */
const INTENTS = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent, GatewayIntentBits.DirectMessages];
/** Asked for only when the gateway reads reactions (to decide approvals); neither is privileged. */
const REACTION_INTENTS = [GatewayIntentBits.GuildMessageReactions, GatewayIntentBits.DirectMessageReactions];

/** Gateway close codes after which reconnecting cannot help (bad token, intents not enabled, …). */
const FATAL_CLOSE_HINTS: Record<number, string> = {
  4004: 'the bot token was rejected; check the token',
  4010: 'invalid shard',
  4011: 'sharding required',
  4012: 'invalid API version',
  4013: 'invalid intents',
  4014: 'disallowed intents; enable the Message Content intent for the bot in the Discord developer portal',
};

/** How a failed sink delivery is retried (the channel workflow deduplicates by message id). */
const SINK_RETRY_DELAYS_MS = [500, 2000, 8000];
const LOGIN_BACKOFF_MAX_MS = 60_000;

/**
 * A Discord bot account: the gateway connection (discord.js Client) that turns MESSAGE_CREATE into
 * InboundEvents, and the REST outbound for replies. discord.js resumes dropped sessions by itself
 * (Discord replays what was missed); this class tracks the state for /health, serialises events per
 * conversation so a channel's messages reach the workflow in order, and keeps the token out of logs.
 */
export class DiscordAdapter implements InboundAdapter {
  readonly kind = DISCORD_KIND;
  readonly platform: string;
  readonly outbound: DiscordOutbound;
  private readonly token: string;
  private readonly logger: Logger;
  private client: Client | null = null;
  private sink: InboundSink | null = null;
  /** Where reactions go (approvals); without it they are not even asked for. */
  private reactions: ReactionSink | undefined;
  private stopped = false;
  private stopWaiting: (() => void) | null = null;
  private current: AdapterStatus;
  /** Per conversation, the tail of the chain of sink deliveries (keeps order within a channel). */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    readonly instance: string,
    private readonly config: DiscordInstanceConfig,
    logger: Logger,
    /** Environment for the token fallback (tests pass their own). */
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.platform = platformKey(DISCORD_KIND, instance);
    this.token = resolveDiscordToken(instance, config, env);
    this.logger = logger.child({ adapter: DISCORD_KIND, instance });
    this.outbound = new DiscordOutbound({ platform: this.platform, token: this.token, apiUrl: config.api_url, logger: this.logger });
    this.current = { kind: DISCORD_KIND, instance, state: 'stopped', since: new Date().toISOString() };
  }

  status(): AdapterStatus {
    return { ...this.current };
  }

  async start(sink: InboundSink, reactions?: ReactionSink): Promise<void> {
    this.sink = sink;
    this.reactions = reactions;
    this.stopped = false;
    this.setState('starting');
    const outcome = await this.connectOnce();
    if (outcome === 'retry') void this.reconnectLoop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopWaiting?.();
    const client = this.client;
    this.client = null;
    if (client) await client.destroy();
    await Promise.allSettled([...this.chains.values()]);
    this.setState('stopped');
  }

  /** One login; 'retry' when the failure may pass (network), 'done' when connected or fatally refused. */
  private async connectOnce(): Promise<'done' | 'retry'> {
    const client = this.createClient();
    const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
    try {
      await client.login(this.token);
      await ready;
      if (this.stopped) {
        await client.destroy();
        return 'done';
      }
      this.client = client;
      this.setState('connected', undefined, client.user?.tag);
      this.logger.info({ botUser: client.user?.tag, guilds: client.guilds.cache.size }, 'discord gateway connected');
      return 'done';
    } catch (err) {
      await client.destroy().catch(() => undefined);
      const message = scrubToken(err instanceof Error ? err.message : String(err), this.token);
      if (isAuthFailure(err)) {
        this.setState('failed', `discord: the bot token was rejected (401); set a valid token for [adapters.discord.${this.instance}]`);
        this.logger.error({ err: message }, 'discord login refused: invalid bot token');
        return 'done';
      }
      this.setState('reconnecting', `discord: login failed: ${message}`);
      this.logger.warn({ err: message }, 'discord login failed; retrying');
      return 'retry';
    }
  }

  private async reconnectLoop(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(1000 * 2 ** attempt, LOGIN_BACKOFF_MAX_MS));
        this.stopWaiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (this.stopped || (await this.connectOnce()) === 'done') return;
    }
  }

  private createClient(): Client {
    const client = new Client({
      intents: this.reactions ? [...INTENTS, ...REACTION_INTENTS] : INTENTS,
      // DM channels are not cached before their first message; without Partials.Channel discord.js drops DMs.
      // A reaction on an uncached message (or by an uncached user) comes as partials too.
      partials: [Partials.Channel, Partials.Message, ...(this.reactions ? [Partials.Reaction, Partials.User] : [])],
      rest: { api: this.config.api_url ?? 'https://discord.com/api', version: '10' },
    });
    client.on(Events.MessageCreate, (message) => this.onMessage(client, message));
    client.on(Events.MessageReactionAdd, (reaction, user) => void this.onReaction(client, reaction, user));
    client.on(Events.ShardReconnecting, () => this.setState('reconnecting', this.current.lastError));
    client.on(Events.ShardResume, (_shard, replayed) => {
      this.logger.info({ replayed }, 'discord gateway resumed');
      this.setState('connected', this.current.lastError);
    });
    client.on(Events.ShardReady, () => {
      if (this.current.state === 'reconnecting') this.setState('connected', this.current.lastError);
    });
    client.on(Events.ShardDisconnect, (event) => {
      const hint = FATAL_CLOSE_HINTS[event.code] ?? `closed with code ${event.code}`;
      this.setState('failed', `discord: gateway disconnected: ${hint}`);
      this.logger.error({ code: event.code }, 'discord gateway disconnected for good');
    });
    client.on(Events.ShardError, (error) => this.recordError(error));
    client.on(Events.Error, (error) => this.recordError(error));
    client.on(Events.Invalidated, () => this.setState('failed', 'discord: session invalidated'));
    client.on(Events.Debug, (line) => this.logger.trace({ discord: scrubToken(line, this.token) }, 'discord.js debug'));
    return client;
  }

  private onMessage(client: Client, message: Message): void {
    const botUserId = client.user?.id;
    if (!botUserId || message.author.id === botUserId) return;
    const key = message.channelId;
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(() => this.forward(message, botUserId));
    this.chains.set(key, next);
    void next.finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  private async forward(message: Message, botUserId: string): Promise<void> {
    try {
      // A thread not in the cache arrives as a partial channel without its parent: fetch it so
      // bindings and allowed_channels can match the parent channel.
      if (message.channel.partial || (message.channel.isThread() && !message.channel.parentId)) {
        await message.client.channels.fetch(message.channelId, { force: true }).catch((err: unknown) => this.recordError(err));
      }
      const result = normalizeMessage(message, {
        kind: DISCORD_KIND,
        instance: this.instance,
        platform: this.platform,
        botUserId,
        filters: this.config,
      });
      if ('ignored' in result) {
        this.logger.debug({ messageId: message.id, channelId: message.channelId, reason: result.ignored }, 'discord message ignored');
        return;
      }
      await this.deliver(result.event);
    } catch (err) {
      this.logger.error({ messageId: message.id, err: scrubToken(String(err), this.token) }, 'discord message could not be handled');
    }
  }

  /**
   * Hands a reaction to the gateway, which decides approvals with it. It is not retried: a reaction
   * lost to an outage is made again by its user. The bot's own reactions are dropped here.
   */
  private async onReaction(client: Client, reaction: Parameters<typeof normalizeReaction>[0], user: Parameters<typeof normalizeReaction>[1]): Promise<void> {
    const sink = this.reactions;
    if (!sink || user.id === client.user?.id) return;
    const normalized = normalizeReaction(reaction, user, { kind: DISCORD_KIND, instance: this.instance, platform: this.platform });
    if (!normalized) return;
    try {
      await sink(normalized);
    } catch (err) {
      this.logger.warn({ messageId: normalized.messageId, err: scrubToken(err instanceof Error ? err.message : String(err), this.token) }, 'gateway did not take the discord reaction; dropped');
    }
  }

  private async deliver(event: Parameters<InboundSink>[0]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.sink!(event);
        return;
      } catch (err) {
        const delay = SINK_RETRY_DELAYS_MS[attempt];
        const detail = scrubToken(err instanceof Error ? err.message : String(err), this.token);
        if (delay === undefined || this.stopped) {
          this.logger.error({ messageId: event.messageId, conversationId: event.conversationId, err: detail }, 'discord message not delivered to its channel');
          return;
        }
        this.logger.warn({ messageId: event.messageId, attempt: attempt + 1, err: detail }, 'discord message delivery to its channel failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private recordError(error: unknown): void {
    const message = scrubToken(error instanceof Error ? error.message : String(error), this.token);
    this.current = { ...this.current, lastError: `discord: ${message}` };
    this.logger.warn({ err: message }, 'discord client error');
  }

  private setState(state: AdapterState, lastError?: string, botUser?: string): void {
    this.current = {
      kind: DISCORD_KIND,
      instance: this.instance,
      state,
      since: this.current?.state === state ? this.current.since : new Date().toISOString(),
      ...(lastError ? { lastError } : {}),
      ...((botUser ?? this.current?.botUser) ? { botUser: botUser ?? this.current?.botUser } : {}),
    };
  }
}

function isAuthFailure(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; status?: unknown };
  return e.code === 'TokenInvalid' || e.status === 401;
}
