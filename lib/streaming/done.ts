import { WEBHOOK_PLATFORM } from '../../workflows/platforms.js';
import type { StreamBus } from './bus.js';

/**
 * Tells SSE clients of a webhook conversation that a reply is in the transcript: the final text
 * replaces whatever was streamed under its key. Sent for every reply, streamed or not (errors too),
 * so a client can follow a conversation from the stream alone.
 */
export function publishDone(
  bus: StreamBus | undefined,
  delivery: { platform: string; channelId: string; turnSeq: number; step: number; key: string },
  reply: { messageId: string; text: string; kind: 'reply' | 'error' },
): void {
  if (!bus || delivery.platform !== WEBHOOK_PLATFORM) return;
  bus.publish({
    type: 'done',
    channelId: delivery.channelId,
    turn: delivery.turnSeq,
    step: delivery.step,
    key: delivery.key,
    messageId: reply.messageId,
    text: reply.text,
    kind: reply.kind,
  });
}
