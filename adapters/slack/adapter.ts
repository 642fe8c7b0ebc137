import { App, HTTPReceiver, webApi, type Receiver } from '@slack/bolt';
import type { Logger } from 'pino';
import type { AdapterState, AdapterStatus, InboundAdapter, InboundEvent, InboundSink, ReactionSink } from '../inbound.js';
import { platformKey } from '../platform-key.js';
import { resolveSlackSecrets, type SlackInstanceConfig, type SlackSecrets } from './config.js';
import { toPlatformError } from './errors.js';
import { normaliseSlackMessage, type SlackIdentity } from './normalise.js';
import { SlackOutbound } from './outbound.js';
import { normaliseSlackReaction } from './reaction.js';
import { RecentMap } from './recent.js';
import { makeScrubber, type Scrubber } from './scrub.js';
import { slackLogger } from './slack-logger.js';
import { AckAfterProcessingReceiver } from './socket-receiver.js';

export const SLACK_KIND = 'slack';

/** Longest wait between attempts to (re)start after a failure that may pass. */
const MAX_RESTART_DELAY_MS = 60_000;

/**
 * A Slack app connection (one workspace bot), through @slack/bolt: Socket Mode by default, or the
 * Events API over HTTP with signature verification on its own port. It normalises and filters
 * message events; the gateway routes them. Its outbound side (`outbound`) is what the worker uses.
 */
export class SlackAdapter implements InboundAdapter {
  readonly kind = SLACK_KIND;
  readonly outbound: SlackOutbound;
  private readonly platform: string;
  private readonly secrets: SlackSecrets;
  private readonly scrub: Scrubber;
  private readonly log: Logger;
  private app: App | undefined;
  private socketReceiver: AckAfterProcessingReceiver | undefined;
  private sink: InboundSink | undefined;
  /** Where reactions go (approvals); without it `reaction_added` events are acknowledged and dropped. */
  private reactions: ReactionSink | undefined;
  private identity: (SlackIdentity & { teamId?: string; name?: string }) | undefined;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private current: AdapterStatus;
  /** Messages handed to the sink (by conversation and ts): a redelivered envelope is not submitted again. */
  private readonly accepted = new RecentMap<string, true>(5000);
  /** In-flight hand-offs, so the `message` and `app_mention` events of one message submit once. */
  private readonly inflight = new Map<string, Promise<void>>();
  /** Threads the bot takes part in: follow-ups there need no fresh mention. */
  private readonly engagedThreads = new RecentMap<string, true>(5000);

  constructor(
    readonly instance: string,
    private readonly config: SlackInstanceConfig,
    logger: Logger,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.platform = platformKey(SLACK_KIND, instance);
    this.secrets = resolveSlackSecrets(instance, config, env);
    this.scrub = makeScrubber([this.secrets.botToken, this.secrets.appToken, this.secrets.signingSecret]);
    this.log = logger.child({ adapter: SLACK_KIND, instance });
    this.current = { kind: SLACK_KIND, instance, state: 'stopped', since: new Date().toISOString() };
    this.outbound = new SlackOutbound({
      platform: this.platform,
      botToken: this.secrets.botToken,
      apiUrl: config.api_url,
      maxMessageChars: config.max_message_chars,
      minEditIntervalMs: config.min_edit_interval_ms,
      statusText: config.status_text,
      logger: this.log,
      scrub: this.scrub,
    });
  }

  status(): AdapterStatus {
    return { ...this.current };
  }

  async start(sink: InboundSink, reactions?: ReactionSink): Promise<void> {
    this.sink = sink;
    this.reactions = reactions;
    this.stopping = false;
    this.setState('starting');
    await this.connect(1);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    await this.teardown();
    this.setState('stopped');
  }

  /** One attempt to authenticate and connect; a failure that may pass schedules the next attempt. */
  private async connect(attempt: number): Promise<void> {
    if (this.stopping) return;
    try {
      this.identity = await this.authenticate();
      this.app = this.buildApp(this.identity);
      if (this.config.mode === 'socket') {
        await this.app.start();
      } else {
        await this.app.start({ port: this.config.http.port, host: this.config.http.host });
      }
      if (this.stopping) return;
      this.setState('connected');
      this.log.info(
        { mode: this.config.mode, team: this.identity.teamId, botUser: this.identity.botUserId, ...(this.config.mode === 'http' ? { port: this.config.http.port, path: this.config.http.path } : {}) },
        'slack adapter connected',
      );
    } catch (err) {
      await this.teardown();
      const method = this.identity ? (this.config.mode === 'socket' ? 'apps.connections.open' : 'events receiver') : 'auth.test';
      const error = toPlatformError(this.platform, method, err, this.scrub);
      if (error.permanent) {
        this.setState('failed', error.message);
        this.log.error({ err: error.message }, 'slack adapter cannot connect; fix the configuration and restart');
        return;
      }
      const delay = Math.min(this.config.ping_timeout_ms * attempt, MAX_RESTART_DELAY_MS);
      this.setState('reconnecting', error.message);
      this.log.warn({ err: error.message, retryInMs: delay }, 'slack adapter failed to connect; retrying');
      this.restartTimer = setTimeout(() => void this.connect(attempt + 1), delay);
    }
  }

  /** auth.test: proves the bot token and tells which bot user to ignore and to listen for. */
  private async authenticate(): Promise<SlackIdentity & { teamId?: string; name?: string }> {
    const client = new webApi.WebClient(this.secrets.botToken, {
      slackApiUrl: this.config.api_url,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      logger: slackLogger(this.log.child({ component: 'slack-web-api' }), this.scrub),
    });
    const result = await client.auth.test();
    if (!result.user_id) throw new Error('Slack auth.test returned no user_id; is bot_token a bot (xoxb-) token?');
    return { botUserId: result.user_id, botId: result.bot_id, teamId: result.team_id, name: result.user };
  }

  private buildApp(identity: SlackIdentity): App {
    const logger = slackLogger(this.log.child({ component: 'slack-bolt' }), this.scrub);
    const clientOptions = { slackApiUrl: this.config.api_url, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true };
    let receiver: Receiver;
    if (this.config.mode === 'socket') {
      this.socketReceiver = new AckAfterProcessingReceiver(
        {
          appToken: this.secrets.appToken!,
          logger,
          clientPingTimeout: this.config.ping_timeout_ms,
          // The Socket Mode client takes its Web API options from here; apps.connections.open keeps the
          // client's own retries (left unset) so a reconnect rides out a Slack hiccup.
          installerOptions: { clientOptions: { slackApiUrl: this.config.api_url } },
        },
        this.log,
        this.scrub,
      );
      this.watchSocket(this.socketReceiver);
      receiver = this.socketReceiver;
    } else {
      receiver = new HTTPReceiver({
        signingSecret: this.secrets.signingSecret!,
        endpoints: this.config.http.path,
        // Answer Slack only after the listener handed the message on: a failure is a 500 and Slack retries.
        processBeforeResponse: true,
        logger,
      });
    }
    const app = new App({
      receiver,
      token: this.secrets.botToken,
      botId: identity.botId,
      botUserId: identity.botUserId,
      // auth.test already ran (authenticate); Bolt would otherwise call it again.
      tokenVerificationEnabled: false,
      // Own messages are filtered in normaliseSlackMessage, with the other rules.
      ignoreSelf: false,
      logger,
      clientOptions,
    });
    app.event('message', async ({ event, body }) => this.onMessage(event, body));
    app.event('app_mention', async ({ event, body }) => this.onMessage(event, body));
    app.event('reaction_added', async ({ event }) => this.onReaction(event));
    app.error(async (error) => {
      // Rethrown so the receiver leaves the event unacknowledged (Slack redelivers it).
      throw error;
    });
    return app;
  }

  private watchSocket(receiver: AckAfterProcessingReceiver): void {
    const client = receiver.client;
    client.on('connected', () => {
      if (!this.stopping && this.current.state !== 'starting') this.setState('connected');
    });
    client.on('reconnecting', () => {
      if (!this.stopping) this.setState('reconnecting');
    });
    client.on('close', () => {
      if (!this.stopping && this.current.state === 'connected') {
        this.setState('reconnecting');
        this.log.warn('slack socket closed; reconnecting');
      }
    });
    client.on('error', (err: unknown) => {
      this.current.lastError = this.scrub(err instanceof Error ? err.message : String(err));
    });
  }

  private async onMessage(rawEvent: unknown, rawBody: unknown): Promise<void> {
    const sink = this.sink;
    const identity = this.identity;
    if (!sink || !identity) return;
    const result = normaliseSlackMessage(rawEvent, rawBody, {
      kind: SLACK_KIND,
      instance: this.instance,
      platform: this.platform,
      config: this.config,
      identity,
      isEngagedThread: (conversationId) => this.engagedThreads.has(conversationId),
      now: () => new Date(),
    });
    if ('ignored' in result) {
      this.log.debug({ reason: result.ignored }, 'slack event ignored');
      return;
    }
    const event = result.event;
    const key = `${event.conversationId}/${event.messageId}`;
    if (this.accepted.has(key)) {
      this.log.debug({ conversationId: event.conversationId, messageId: event.messageId }, 'slack message already handed on');
      return;
    }
    const running = this.inflight.get(key);
    if (running) return running;
    const handoff = this.handOff(sink, event, key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, handoff);
    return handoff;
  }

  /**
   * Hands a reaction to the gateway, which decides approvals with it. A failure is logged, not
   * rethrown: a reaction lost to an outage is made again by its user, and a redelivered one would
   * find its approval already decided.
   */
  private async onReaction(rawEvent: unknown): Promise<void> {
    const sink = this.reactions;
    const identity = this.identity;
    if (!sink || !identity) return;
    const reaction = normaliseSlackReaction(rawEvent, { kind: SLACK_KIND, instance: this.instance, platform: this.platform, botUserId: identity.botUserId });
    if (!reaction || reaction.user.isBot) return;
    try {
      await sink(reaction);
    } catch (err) {
      this.log.warn({ messageId: reaction.messageId, err: this.scrub(err instanceof Error ? err.message : String(err)) }, 'gateway did not take the slack reaction; dropped');
    }
  }

  private async handOff(sink: InboundSink, event: InboundEvent, key: string): Promise<void> {
    await sink(event);
    this.accepted.set(key, true);
    const { channelId, threadId, isDirect } = event.coordinates;
    if (!isDirect && channelId) {
      // A reply thread under this message, or this thread itself, now involves the bot.
      this.engagedThreads.set(threadId ? `${channelId}.${threadId}` : `${channelId}.${event.messageId}`, true);
    }
  }

  private async teardown(): Promise<void> {
    const app = this.app;
    const socket = this.socketReceiver;
    this.app = undefined;
    this.socketReceiver = undefined;
    try {
      if (socket) {
        // Waits for the socket to close (Bolt's receiver.stop() would not).
        await socket.client.disconnect();
      } else if (app && this.config.mode === 'http') {
        await app.stop();
      }
    } catch (err) {
      this.log.debug({ err: this.scrub(err instanceof Error ? err.message : String(err)) }, 'slack adapter teardown');
    }
  }

  private setState(state: AdapterState, lastError?: string): void {
    const botUser = this.identity?.name ?? this.identity?.botUserId;
    this.current = {
      kind: SLACK_KIND,
      instance: this.instance,
      state,
      since: new Date().toISOString(),
      lastError: lastError !== undefined ? this.scrub(lastError) : this.current.lastError,
      ...(botUser ? { botUser } : {}),
    };
  }
}
