import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * The delivery outbox's row protocol (migrations/019_delivery_outbox.sql). An attempt claims a
 * pending delivery with a lease; only the lease's owner records parts and the outcome. Expiry is
 * computed and compared by the database (`now()`), so the workers' clocks never decide who posts.
 */

/** A claim lasts this long unless renewed; the posting attempt renews it every DELIVERY_RENEW_MS. */
export const DELIVERY_LEASE_MS = 30_000;
export const DELIVERY_RENEW_MS = 5_000;

export type Claim =
  | { status: 'claimed'; posted: string[]; attempts: number }
  | { status: 'delivered' }
  | { status: 'failed' }
  /** Another attempt holds the lease for `remainingMs` more (unless it renews it). */
  | { status: 'held'; remainingMs: number; owner: string | null };

/** Lost the lease (it expired and another attempt claimed the row): stop posting at once. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(key: string) {
    super(`delivery ${key}: the lease was lost to another attempt; it posts what is missing`);
  }
}

/** Names the attempt in the row for operators: which host and process, plus a unique part. */
export function newLeaseOwner(): string {
  return `${hostname()}/${process.pid}/${randomUUID()}`;
}

const expiry = (ms: number) => sql<Date>`now() + ${ms} * interval '1 millisecond'`;

/** Claims a pending delivery whose lease is free or expired; counts the attempt. */
export async function claimDelivery(db: Kysely<Database>, key: string, owner: string, leaseMs = DELIVERY_LEASE_MS): Promise<Claim> {
  const claimed = await db
    .updateTable('deliveries')
    .set({ lease_owner: owner, lease_expires_at: expiry(leaseMs), attempts: sql`attempts + 1` })
    .where('key', '=', key)
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', sql<Date>`now()`), eb('lease_owner', '=', owner)]))
    .returning(['posted_parts', 'attempts'])
    .executeTakeFirst();
  if (claimed) return { status: 'claimed', posted: postedPartsOf(claimed.posted_parts), attempts: claimed.attempts };
  const row = await db
    .selectFrom('deliveries')
    .select(['status', 'lease_owner', sql<number>`greatest(0, extract(epoch from (lease_expires_at - now())) * 1000)`.as('remaining_ms')])
    .where('key', '=', key)
    .executeTakeFirst();
  if (!row) throw new Error(`delivery ${key} is not recorded; nothing to claim`);
  if (row.status === 'delivered') return { status: 'delivered' };
  if (row.status === 'failed') return { status: 'failed' };
  return { status: 'held', remainingMs: Math.ceil(Number(row.remaining_ms ?? 0)), owner: row.lease_owner };
}

/** Extends the owner's lease; false when it is no longer the owner (or the delivery is settled). */
export async function renewLease(db: Kysely<Database>, key: string, owner: string, leaseMs = DELIVERY_LEASE_MS): Promise<boolean> {
  const result = await db
    .updateTable('deliveries')
    .set({ lease_expires_at: expiry(leaseMs) })
    .where('key', '=', key)
    .where('status', '=', 'pending')
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Records the posted parts so far (and renews the lease); throws LeaseLostError if no longer the owner. */
export async function recordParts(db: Kysely<Database>, key: string, owner: string, posted: readonly string[], leaseMs = DELIVERY_LEASE_MS): Promise<void> {
  const result = await db
    .updateTable('deliveries')
    .set({ posted_parts: JSON.stringify(posted), lease_expires_at: expiry(leaseMs) })
    .where('key', '=', key)
    .where('status', '=', 'pending')
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  if (result.numUpdatedRows === 0n) throw new LeaseLostError(key);
}

/** The post completed: delivered, lease released. Not the owner any more: the other attempt settles it. */
export async function markDelivered(db: Kysely<Database>, key: string, owner: string, platformMessageId: string): Promise<boolean> {
  const result = await db
    .updateTable('deliveries')
    .set({ status: 'delivered', platform_message_id: platformMessageId, delivered_at: new Date(), last_error: null, lease_owner: null, lease_expires_at: null })
    .where('key', '=', key)
    .where('status', '=', 'pending')
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** This attempt failed but the delivery goes on: the error is kept and the lease released at once. */
export async function releaseWithError(db: Kysely<Database>, key: string, owner: string, error: string): Promise<void> {
  await db
    .updateTable('deliveries')
    .set({ last_error: error, lease_owner: null, lease_expires_at: null })
    .where('key', '=', key)
    .where('status', '=', 'pending')
    .where('lease_owner', '=', owner)
    .execute();
}

/** Given up (permanent refusal or retry budget spent): `failed`, with its last error, for operators. */
export async function markFailed(db: Kysely<Database>, key: string, owner: string, error: string): Promise<boolean> {
  const result = await db
    .updateTable('deliveries')
    .set({ status: 'failed', last_error: error, failed_at: new Date(), lease_owner: null, lease_expires_at: null })
    .where('key', '=', key)
    .where('status', '=', 'pending')
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** jsonb comes back parsed (pg, PGlite); a string only from drivers that do not parse it. */
export function postedPartsOf(value: unknown): string[] {
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  return Array.isArray(parsed) ? parsed.map(String) : [];
}
