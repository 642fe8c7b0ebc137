import type { OutboundAdapter, OutboundMessage } from './outbound.js';
import { WEBHOOK_PLATFORM } from '../workflows/platforms.js';

export { WEBHOOK_PLATFORM };

/**
 * The webhook adapter's outbound side. Its clients read replies from the transcript (by polling, or
 * by waiting on their POST), so the recorded outbound message is the delivery: nothing else to post.
 */
export class WebhookOutbound implements OutboundAdapter {
  readonly platform = WEBHOOK_PLATFORM;

  async send(message: OutboundMessage): Promise<{ platformMessageId: string }> {
    return { platformMessageId: message.deliveryKey };
  }
}
