import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { newLeaseOwner } from '../delivery/lease.js';

/** A step's lease lasts this long past its holder's last platform call, unless released sooner. */
export const STREAM_LEASE_MS = 30_000;
/**
 * A channel's leases expired this long ago are deleted (sweep): longer than any model call's
 * start-to-close timeout (workflows/activity-options.ts, at most 31 minutes), so no attempt that
 * could still want one is alive, and a superseded attempt can never re-take a step's lease.
 */
export const STREAM_LEASE_KEEP_MS = 60 * 60_000;
/** How often a waiting attempt looks again. */
const POLL_MS = 200;

/**
 * Which attempt of a model call may post and edit its step's streamed drafts (stream_leases,
 * migrations/019). Held while platform work is under way, released when it is done, so a retry on
 * any worker waits for an earlier attempt's draft post before it reads the step's drafts. An attempt
 * never takes the lease back from a newer one (`generation` = the activity attempt), so a superseded
 * attempt still streaming stops instead of posting drafts the newer one does not know of.
 */
export class StreamLease {
  private readonly owner = newLeaseOwner();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly step: { channelId: string; turnSeq: number; step: number },
    private readonly generation: number,
  ) {}

  /** Takes (or keeps) the lease: free or expired and held by no newer attempt, or already ours. */
  async take(leaseMs = STREAM_LEASE_MS): Promise<boolean> {
    const expires = sql<Date>`now() + ${leaseMs} * interval '1 millisecond'`;
    const row = await this.db
      .insertInto('stream_leases')
      .values({ channel_id: this.step.channelId, turn_seq: this.step.turnSeq, step: this.step.step, owner: this.owner, generation: this.generation, expires_at: expires })
      .onConflict((oc) =>
        oc
          .columns(['channel_id', 'turn_seq', 'step'])
          .doUpdateSet({ owner: this.owner, generation: sql`greatest(stream_leases.generation, excluded.generation)`, expires_at: expires })
          .where((eb) =>
            eb.or([
              eb('stream_leases.owner', '=', this.owner),
              eb.and([eb('stream_leases.expires_at', '<=', sql<Date>`now()`), eb('stream_leases.generation', '<=', this.generation)]),
            ]),
          ),
      )
      .returning('owner')
      .executeTakeFirst();
    return row?.owner === this.owner;
  }

  /** Waits (at most `waitMs`) for an earlier attempt to release or lose the lease; false if it did not. */
  async acquire(waitMs = STREAM_LEASE_MS, sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))): Promise<boolean> {
    const until = Date.now() + waitMs;
    for (;;) {
      if (await this.take()) return true;
      if (Date.now() >= until) return false;
      await sleep(POLL_MS);
    }
  }

  /** Platform work is done for now: another attempt may take over at once. */
  async release(): Promise<void> {
    await this.db
      .updateTable('stream_leases')
      .set({ expires_at: sql<Date>`now()` })
      .where('channel_id', '=', this.step.channelId)
      .where('turn_seq', '=', this.step.turnSeq)
      .where('step', '=', this.step.step)
      .where('owner', '=', this.owner)
      .execute();
  }

  /** Deletes this channel's leases that expired over STREAM_LEASE_KEEP_MS ago (one row per streamed step otherwise stays forever). */
  async sweep(): Promise<void> {
    await this.db
      .deleteFrom('stream_leases')
      .where('channel_id', '=', this.step.channelId)
      .where('expires_at', '<', sql<Date>`now() - ${STREAM_LEASE_KEEP_MS} * interval '1 millisecond'`)
      .execute();
  }
}
