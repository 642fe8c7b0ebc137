import type { ReplyRecord } from '../workflows/channel-contract.js';
import type { DeliverReplyInput } from './contract.js';
import type { ActivityDeps } from './deps.js';
import { attemptDelivery } from './delivery-attempt.js';
import { recordDeliveryOnce } from '../lib/delivery/record.js';
import { putEntry } from '../lib/channel/context-store.js';
import { publishDone } from '../lib/streaming/done.js';
import { sendOrFinalize } from '../lib/streaming/finalize.js';
import { leakGuardOf } from '../lib/security/leak-guard.js';

/**
 * Delivers one reply once per delivery key. The transcript row and the delivery row are written
 * first, in one transaction; the platform post follows by the outbox protocol (delivery-attempt.ts):
 * under a lease, part by part, so neither a retried activity, a concurrent attempt nor a replayed
 * workflow posts it twice. A delivery that exhausts its budget ends `failed` and the turn goes on.
 */
export function makeDeliverReply(deps: ActivityDeps) {
  return async function deliverReply(raw: DeliverReplyInput): Promise<ReplyRecord> {
    const deliveryKey = `${raw.channelId}:${raw.turnSeq}:${raw.step}:${raw.key}`;
    // Whatever the model wrote, a secret in it is redacted before the reply is stored, posted or
    // returned to the workflow; the event is logged (kinds only, never the value).
    const guard = leakGuardOf(deps);
    const { text, kinds } = guard.redact(raw.text);
    if (kinds.length) deps.logger.warn({ channelId: raw.channelId, platform: raw.platform, deliveryKey, kinds }, 'an outbound reply held secrets; delivered redacted');
    const input = kinds.length ? { ...raw, text } : raw;
    const agent = deps.config.agents.find((a) => a.id === input.agentId);
    const delivery = await recordDeliveryOnce(deps.db, deliveryKey, async (tx) => {
      const message = await tx
        .insertInto('messages')
        .values({
          channel_id: input.channelId,
          direction: 'outbound',
          platform_message_id: `out:${deliveryKey}`,
          sender_id: input.agentId,
          sender_name: agent?.name ?? input.agentId,
          text: input.text,
          reply_to: input.replyTo ?? null,
          turn_seq: input.turnSeq,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      if (input.toolCallId) {
        await putEntry(tx, { channelId: input.channelId, turnSeq: input.turnSeq, step: input.step, idx: 1 + (input.toolCallIdx ?? 0) }, 'tool', {
          type: 'tool_result',
          toolCallId: input.toolCallId,
          content: 'Delivered.',
        });
      }
      return tx
        .insertInto('deliveries')
        .values({ key: deliveryKey, channel_id: input.channelId, message_id: message.id, platform: input.platform, status: 'pending' })
        .returningAll()
        .executeTakeFirstOrThrow();
    });
    const reply: ReplyRecord = { messageId: delivery.message_id, text: input.text, kind: input.kind };
    publishDone(deps.streams, input, reply);
    // Delivered, or given up as failed (the operator sees the row): either way the turn goes on.
    if (delivery.status !== 'pending') return reply;

    const adapter = deps.outbound.get(input.platform);
    if (!adapter) throw new Error(`no outbound adapter for platform "${input.platform}"`);
    await attemptDelivery({ db: deps.db, logger: deps.logger, redact: (message) => guard.redact(message).text }, deliveryKey, (progress) =>
      // A streamed reply already has a draft on the platform: it is edited into this text, not posted again.
      sendOrFinalize(deps.db, adapter, { deliveryKey, conversationId: input.conversationId, text: input.text, replyTo: input.replyTo, progress }),
    );
    return reply;
  };
}
