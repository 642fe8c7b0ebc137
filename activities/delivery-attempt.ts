import type { Kysely } from 'kysely';
import type { Database } from '../lib/db/schema.js';

/**
 * Posts a delivery that is recorded but not yet delivered, and records the outcome on its row: on
 * success it is marked delivered (so a retry never posts it again), on failure the error is kept and
 * rethrown for Temporal to retry.
 */
export async function attemptDelivery(
  db: Kysely<Database>,
  delivery: { key: string; attempts: number },
  post: () => Promise<{ platformMessageId: string }>,
): Promise<void> {
  try {
    const sent = await post();
    await db
      .updateTable('deliveries')
      .set({ status: 'delivered', platform_message_id: sent.platformMessageId, delivered_at: new Date(), attempts: delivery.attempts + 1, last_error: null })
      .where('key', '=', delivery.key)
      .execute();
  } catch (err) {
    await db
      .updateTable('deliveries')
      .set({ attempts: delivery.attempts + 1, last_error: (err as Error).message.slice(0, 1000) })
      .where('key', '=', delivery.key)
      .execute();
    throw err;
  }
}
