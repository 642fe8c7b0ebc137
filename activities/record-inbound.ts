import { sql } from 'kysely';
import type { RecordInboundInput } from './contract.js';
import type { ActivityDeps } from './deps.js';
import { putEntry } from '../lib/channel/context-store.js';
import { refuseEncodingErrors } from '../lib/text/database-encoding.js';
import { cleanOptional, cleanText } from '../lib/text/hygiene.js';

/**
 * Writes a turn's inbound messages to the transcript and the channel's context. Idempotent: the
 * transcript is keyed by platform message id, the context by position.
 *
 * The doors refuse NUL and unpaired surrogates, but a message can still arrive with them (a history
 * recorded before, an adapter's path, a heartbeat prompt): they are removed here, the same way the
 * gateway removes them, because a row the database refuses would fail this activity on every retry
 * and wedge the conversation. Anything the database still refuses for its characters fails
 * non-retryably, and the turn tells the user.
 */
export function makeRecordInbound(deps: ActivityDeps) {
  return async function recordInbound(input: RecordInboundInput): Promise<void> {
    await refuseEncodingErrors('the message', () =>
      deps.db.transaction().execute(async (tx) => {
        await tx
          .insertInto('channels')
          .values({ id: input.channelId, agent_id: input.agentId, platform: input.platform, conversation_id: input.conversationId })
          .onConflict((oc) => oc.column('id').doUpdateSet({ last_message_at: sql`now()` }))
          .execute();
        for (const [i, raw] of input.messages.entries()) {
          const m = { ...raw, messageId: cleanText(raw.messageId), text: cleanText(raw.text), sender: raw.sender && { id: cleanText(raw.sender.id), name: cleanOptional(raw.sender.name) } };
          await tx
            .insertInto('messages')
            .values({
              channel_id: input.channelId,
              direction: 'inbound',
              platform_message_id: m.messageId,
              sender_id: m.sender?.id ?? null,
              sender_name: m.sender?.name ?? null,
              text: m.text,
              turn_seq: input.turnSeq,
              created_at: m.receivedAt,
            })
            .onConflict((oc) => oc.columns(['channel_id', 'direction', 'platform_message_id']).doUpdateSet({ turn_seq: input.turnSeq }))
            .execute();
          const who = m.sender ? `[${m.sender.name ?? m.sender.id}] ` : '';
          await putEntry(tx, { channelId: input.channelId, turnSeq: input.turnSeq, step: input.step ?? 0, idx: (input.idxBase ?? 0) + i }, 'user', {
            role: 'user',
            parts: [{ type: 'text', text: who + m.text }],
          });
        }
      }),
    );
  };
}
