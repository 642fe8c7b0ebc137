import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, DeliveriesTable } from '../db/schema.js';

export type DeliveryRow = Selectable<DeliveriesTable>;

/** PostgreSQL's unique_violation. */
const UNIQUE_VIOLATION = '23505';

/**
 * Records a delivery once per key: `write` (the transcript row, the delivery row, whatever belongs
 * with them) runs in one transaction unless the key is already recorded. Two attempts recording the
 * same key at once (Temporal started a second while the first runs) both end with the one row: the
 * loser's unique violation is answered with the winner's row.
 */
export async function recordDeliveryOnce(db: Kysely<Database>, key: string, write: (tx: Transaction<Database>) => Promise<DeliveryRow>): Promise<DeliveryRow> {
  const find = (q: Kysely<Database>) => q.selectFrom('deliveries').selectAll().where('key', '=', key).executeTakeFirst();
  try {
    return await db.transaction().execute(async (tx) => (await find(tx)) ?? write(tx));
  } catch (err) {
    if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
    const row = await find(db);
    if (!row) throw err;
    return row;
  }
}
