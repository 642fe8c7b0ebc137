import type { OutboundAdapter } from '../../adapters/outbound.js';
import type { Logger } from '../logger.js';

/** What a user whose messages were dropped for a full conversation is told. */
export const SLOW_DOWN_TEXT = "Slow down, please: I'm still answering your earlier messages. Some of your latest ones were not taken; send them again once I have replied.";

/** One notice per conversation in this window: a burst gets one, not one per dropped message. */
export const SLOW_DOWN_INTERVAL_MS = 60_000;

/** Conversations remembered at most; past it the oldest are forgotten (at worst, one extra notice). */
const MAX_REMEMBERED = 10_000;

/**
 * Tells a user, through the platform's outbound, that their messages were dropped because their
 * conversation is full. Sent at most once per conversation per SLOW_DOWN_INTERVAL_MS, so a flood
 * cannot turn into a flood of notices; a failure to send is logged and otherwise ignored.
 */
export class SlowDownNotices {
  private readonly lastSent = new Map<string, number>();

  constructor(
    private readonly outbound: (platform: string) => OutboundAdapter | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  notify(key: string, target: { platform: string; conversationId: string; messageId: string }, log: Logger): void {
    const now = this.now();
    const last = this.lastSent.get(key);
    if (last !== undefined && now - last < SLOW_DOWN_INTERVAL_MS) return;
    this.lastSent.delete(key);
    this.lastSent.set(key, now);
    if (this.lastSent.size > MAX_REMEMBERED) this.lastSent.delete(this.lastSent.keys().next().value as string);
    const adapter = this.outbound(target.platform);
    if (!adapter) return;
    adapter
      .send({ deliveryKey: `slow-down:${target.conversationId}:${target.messageId}`, conversationId: target.conversationId, text: SLOW_DOWN_TEXT })
      .then(() => log.info('slow-down notice sent'))
      .catch((err: unknown) => log.warn({ error: (err as Error).message }, 'could not send the slow-down notice'));
  }
}
