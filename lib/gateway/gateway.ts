import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { AdapterStatus, InboundAdapter, InboundEvent, InboundReaction } from '../../adapters/inbound.js';
import type { OutboundAdapter } from '../../adapters/outbound.js';
import { platformKey } from '../../adapters/platform-key.js';
import { createAdapter } from '../../adapters/registry.js';
import type { ChannelClient } from '../channel/channel-client.js';
import type { SpacebotConfig } from '../config/types.js';
import type { Database } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { routeEvent } from './bindings.js';
import { cleanText } from '../text/hygiene.js';
import { decideByReaction } from '../policy/approval-decisions.js';
import { writeAdapterStatuses } from './status-store.js';
import { DEFAULT_SUBMIT_RETRY, GatewayStoppingError, type RetryPolicy } from './submit-retry.js';
import { ConversationLanes, DEFAULT_BACKPRESSURE, type Backpressure } from './conversation-lanes.js';
import { SlowDownNotices } from './slow-down-notice.js';

export interface GatewayOptions {
  config: SpacebotConfig;
  /** Update-with-start into channel workflows (ChannelClient); only `submit` is used. */
  channels: Pick<ChannelClient, 'submit'>;
  logger: Logger;
  /** Where adapter status is written for the API (adapter_status); none in unit tests. */
  db?: Kysely<Database>;
  /** Adapters to run; default: every enabled `[adapters.<kind>.<instance>]`, built by adapters/registry.ts. */
  adapters?: InboundAdapter[];
  env?: NodeJS.ProcessEnv;
  retry?: RetryPolicy;
  /** Per-conversation bounds on messages refused for a full queue (conversation-lanes.ts). */
  backpressure?: Backpressure;
  /** With `db`: reactions on approval notices decide them (docs/security.md); absent: reactions are not read. */
  temporal?: Client;
}

export type GatewayAdapterStatus = AdapterStatus & { platform: string };

/**
 * The gateway: runs the configured inbound adapters (the live connections), routes each event to an
 * agent through the bindings, and submits it to that conversation's channel workflow with
 * update-with-start, keyed by the platform message id. It never waits for the turn: replies leave
 * through the worker's delivery activity. While Temporal is unreachable it retries with backoff and
 * holds the adapter back, so the platform re-delivers rather than the message being lost; the channel
 * workflow's deduplication by message id makes re-delivery harmless.
 */
export class Gateway {
  readonly adapters: InboundAdapter[];
  private readonly abort = new AbortController();
  private statusTimer: NodeJS.Timeout | undefined;
  private lastStates = new Map<string, string>();
  private statusWrite: Promise<void> = Promise.resolve();
  private readonly lanes: ConversationLanes;
  private readonly notices: SlowDownNotices;

  constructor(private readonly options: GatewayOptions) {
    const env = options.env ?? process.env;
    this.adapters =
      options.adapters ?? options.config.adapters.map((a) => createAdapter(a.kind, a.instance, a.settings, options.logger, env));
    this.notices = new SlowDownNotices((platform) => this.adapters.find((a) => a.outbound.platform === platform)?.outbound);
    this.lanes = new ConversationLanes({
      bounds: options.backpressure ?? DEFAULT_BACKPRESSURE,
      policy: options.retry ?? DEFAULT_SUBMIT_RETRY,
      signal: this.abort.signal,
      // One notice for the dropped lot, answering its first message.
      onDropped: (key, jobs) => {
        const first = jobs[0];
        if (first) this.notices.notify(key, first.target, first.log);
      },
    });
  }

  /** The outbound side of every adapter, for the worker's OutboundAdapters. */
  outbound(): OutboundAdapter[] {
    return this.adapters.map((a) => a.outbound);
  }

  statuses(): GatewayAdapterStatus[] {
    return this.adapters.map((a) => ({ ...a.status(), platform: platformKey(a.kind, a.instance) }));
  }

  async start(): Promise<void> {
    const log = this.options.logger.child({ component: 'gateway' });
    await Promise.all(
      this.adapters.map(async (adapter) => {
        try {
          const { db, temporal } = this.options;
          await adapter.start((event) => this.accept(event), db && temporal ? (reaction) => this.acceptReaction(reaction) : undefined);
        } catch (err) {
          // One broken account must not keep the others (or the process) down; its status says why.
          log.error({ kind: adapter.kind, instance: adapter.instance, error: (err as Error).message }, 'adapter failed to start');
        }
      }),
    );
    this.reportStatus();
    const interval = this.options.config.gateway.statusIntervalMs;
    this.statusTimer = setInterval(() => this.reportStatus(), interval);
    this.statusTimer.unref();
    log.info({ adapters: this.statuses().map((s) => `${s.platform}:${s.state}`) }, 'gateway started');
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.statusTimer) clearInterval(this.statusTimer);
    await Promise.all(this.adapters.map((a) => a.stop().catch(() => undefined)));
    await this.lanes.settled();
    this.reportStatus();
    await this.statusWrite;
  }

  /** The sink every adapter delivers to. Resolves once the channel workflow has the message. */
  private async accept(event: InboundEvent): Promise<void> {
    const log = this.options.logger.child({ component: 'gateway', platform: event.platform, conversation: event.conversationId, messageId: event.messageId });
    const route = routeEvent(event, this.options.config.bindings, this.options.config.gateway);
    if (!route.agentId) {
      log.debug('no binding matches and [gateway] unmatched = "ignore": message ignored');
      return;
    }
    const agentId = route.agentId;
    const binding = typeof route.binding === 'number' ? this.options.config.bindings[route.binding] : undefined;
    // The lane: one conversation refused for a full queue waits there, bounded, without holding up the
    // adapter for other conversations (conversation-lanes.ts).
    const key = JSON.stringify([agentId, event.platform, event.conversationId]);
    const submit = async () => {
      const outcome = await this.options.channels.submit({
        agentId,
        platform: event.platform,
        conversationId: event.conversationId,
        message: {
          // Platforms may hand us NUL or unpaired surrogates; the database stores neither, so they
          // are removed here, the one rule of lib/text/hygiene.ts (recordInbound applies it again).
          messageId: cleanText(event.messageId),
          text: cleanText(event.text),
          sender: { id: cleanText(event.sender.id), ...(event.sender.name ? { name: cleanText(event.sender.name) } : {}) },
          receivedAt: event.receivedAt,
          isDirect: event.coordinates.isDirect,
          // The binding's autonomy override travels with the message to the worker it may start.
          ...(binding?.autonomy ? { autonomy: binding.autonomy } : {}),
        },
      });
      log.debug({ agent: agentId, binding: route.binding, workflowId: outcome.workflowId, duplicate: outcome.result?.duplicate }, 'message submitted');
    };
    try {
      await this.lanes.accept(key, { submit, log, target: { platform: event.platform, conversationId: event.conversationId, messageId: event.messageId } });
    } catch (err) {
      if (err instanceof GatewayStoppingError) throw err;
      // The workflow refused this message for good: acknowledge it, or the adapter would be stuck on it.
      log.error({ agent: agentId, error: (err as Error).message }, 'channel workflow rejected the message; dropped');
    }
  }

  /** A reaction: it may decide a pending approval; any failure is logged, never fatal to the adapter. */
  private async acceptReaction(reaction: InboundReaction): Promise<void> {
    const { db, temporal, config, logger } = this.options;
    if (!db || !temporal) return;
    const log = logger.child({ component: 'gateway', platform: reaction.platform, conversation: reaction.conversationId });
    try {
      const outcome = await decideByReaction({ config, db, temporal, logger: log }, reaction);
      if (outcome && !outcome.ok) log.info({ reason: outcome.message }, 'reaction did not decide the approval');
    } catch (err) {
      log.warn({ error: (err as Error).message }, 'could not decide an approval by reaction');
    }
  }

  /** Logs state changes and writes every adapter's status for the API (serialised, never overlapping). */
  private reportStatus(): void {
    const statuses = this.statuses();
    const log = this.options.logger.child({ component: 'gateway' });
    for (const s of statuses) {
      const key = `${s.kind}:${s.instance}`;
      if (this.lastStates.get(key) !== s.state) {
        this.lastStates.set(key, s.state);
        const level = s.state === 'failed' ? 'error' : s.state === 'reconnecting' ? 'warn' : 'info';
        log[level]({ kind: s.kind, instance: s.instance, state: s.state, lastError: s.lastError }, `adapter ${s.platform} is ${s.state}`);
      }
    }
    const db = this.options.db;
    if (!db) return;
    this.statusWrite = this.statusWrite
      .then(() => writeAdapterStatuses(db, statuses))
      .catch((err: unknown) => log.warn({ error: (err as Error).message }, 'could not record adapter status'));
  }
}
