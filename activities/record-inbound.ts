import { sql, type Kysely } from 'kysely';
import type { RecordInboundInput } from './contract.js';
import type { ActivityDeps } from './deps.js';
import type { Database } from '../lib/db/schema.js';
import type { InboundMessage } from '../workflows/channel-contract.js';
import { deleteBodies, readBodies } from '../lib/channel/inbound-bodies.js';
import { putEntry } from '../lib/channel/context-store.js';
import { refuseEncodingErrors } from '../lib/text/database-encoding.js';
import { cleanOptional, cleanText } from '../lib/text/hygiene.js';

/**
 * Writes a turn's inbound messages to the transcript and the channel's context. Idempotent: the
 * transcript is keyed by platform message id, the context by position. New messages arrive without
 * their text (only ids travel through Temporal): it is read from inbound_bodies, where the intake
 * stored it, and removed there once it is in the transcript.
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
        const texts = await bodiesOf(tx, input.channelId, input.messages);
        for (const [i, raw] of input.messages.entries()) {
          const text = texts.get(raw.messageId) ?? LOST_BODY;
          const m = { ...raw, messageId: cleanText(raw.messageId), text: cleanText(text), sender: raw.sender && { id: cleanText(raw.sender.id), name: cleanOptional(raw.sender.name) } };
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
        // In the transcript now (a retry of this activity finds the text there): the intake copy goes.
        await deleteBodies(tx, input.channelId, input.messages.filter((m) => m.text === undefined).map((m) => m.messageId));
      }),
    );
  };
}

/** Said in place of a body that is neither stored nor in the transcript (never expected): the turn goes on. */
const LOST_BODY = '(the text of this message was lost)';

/**
 * The texts of a turn's messages: carried in the message (histories from before bodies were stored
 * at intake), else from inbound_bodies, else from the transcript (this activity already ran and
 * committed once, then was retried).
 */
async function bodiesOf(tx: Kysely<Database>, channelId: string, messages: InboundMessage[]): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  for (const m of messages) if (m.text !== undefined) texts.set(m.messageId, m.text);
  const missing = messages.filter((m) => m.text === undefined).map((m) => m.messageId);
  for (const [id, text] of await readBodies(tx, channelId, missing)) texts.set(id, text);
  const unstored = missing.filter((id) => !texts.has(id));
  if (unstored.length) {
    const rows = await tx
      .selectFrom('messages')
      .select(['platform_message_id', 'text'])
      .where('channel_id', '=', channelId)
      .where('direction', '=', 'inbound')
      .where('platform_message_id', 'in', unstored)
      .execute();
    for (const r of rows) if (r.platform_message_id) texts.set(r.platform_message_id, r.text);
  }
  return texts;
}
