import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** A streamed reply's draft message on its platform, under the delivery key that will finalise it. */
export interface Draft {
  deliveryKey: string;
  platformMessageId: string;
}

export interface DraftPosition {
  channelId: string;
  turnSeq: number;
  step: number;
  platform: string;
  conversationId: string;
}

/** `${channelId}:${turnSeq}:${step}:${key}`, the key deliverReply uses for the same reply. */
export function deliveryKeyOf(position: { channelId: string; turnSeq: number; step: number }, key: string): string {
  return `${position.channelId}:${position.turnSeq}:${position.step}:${key}`;
}

/** Drafts of one model call (all attempts of one step), e.g. for a retried activity to reuse. */
export async function draftsOfStep(db: Kysely<Database>, position: DraftPosition): Promise<Draft[]> {
  const rows = await db
    .selectFrom('stream_drafts')
    .select(['delivery_key', 'platform_message_id'])
    .where('channel_id', '=', position.channelId)
    .where('turn_seq', '=', position.turnSeq)
    .where('step', '=', position.step)
    .orderBy('created_at')
    .execute();
  return rows.map((r) => ({ deliveryKey: r.delivery_key, platformMessageId: r.platform_message_id }));
}

/** Records (or moves) a draft under `deliveryKey`; a draft message has one key at a time. */
export async function saveDraft(db: Kysely<Database>, position: DraftPosition, deliveryKey: string, platformMessageId: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('stream_drafts').where('platform_message_id', '=', platformMessageId).where('channel_id', '=', position.channelId).execute();
    await tx
      .insertInto('stream_drafts')
      .values({
        delivery_key: deliveryKey,
        channel_id: position.channelId,
        turn_seq: position.turnSeq,
        step: position.step,
        platform: position.platform,
        conversation_id: position.conversationId,
        platform_message_id: platformMessageId,
      })
      .onConflict((oc) => oc.column('delivery_key').doUpdateSet({ platform_message_id: platformMessageId, updated_at: sql`now()` }))
      .execute();
  });
}

/** Forgets a draft that no delivery will finalise (it was withdrawn on its platform). */
export async function dropDraft(db: Kysely<Database>, deliveryKey: string): Promise<void> {
  await db.deleteFrom('stream_drafts').where('delivery_key', '=', deliveryKey).execute();
}

/** The draft deliverReply should finalise by edit, if the reply was streamed. */
export async function draftFor(db: Kysely<Database>, deliveryKey: string): Promise<Draft | undefined> {
  const row = await db.selectFrom('stream_drafts').select(['delivery_key', 'platform_message_id']).where('delivery_key', '=', deliveryKey).executeTakeFirst();
  return row ? { deliveryKey: row.delivery_key, platformMessageId: row.platform_message_id } : undefined;
}
