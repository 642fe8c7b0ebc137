import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Kysely } from 'kysely';
import type { PartProgress, SentMessage } from '../adapters/outbound.js';
import { PlatformError } from '../adapters/platform-error.js';
import type { Database } from '../lib/db/schema.js';
import {
  claimDelivery,
  DELIVERY_LEASE_MS,
  DELIVERY_RENEW_MS,
  LeaseLostError,
  markDelivered,
  markFailed,
  newLeaseOwner,
  recordParts,
  releaseWithError,
  renewLease,
} from '../lib/delivery/lease.js';
import type { Logger } from '../lib/logger.js';
import { DELIVERY_MAX_ATTEMPTS } from '../workflows/delivery-budget.js';

/** How often an attempt that found the lease held looks again while it waits. */
const HELD_POLL_MS = 500;

export interface DeliveryAttemptDeps {
  db: Kysely<Database>;
  logger: Logger;
  /** The leak guard's redaction: a platform error can quote the request (a token in a URL). */
  redact?: (text: string) => string;
  leaseMs?: number;
  renewMs?: number;
}

/** What became of the delivery: `failed` only once its retry budget is spent (the caller goes on). */
export type DeliveryOutcome = 'delivered' | 'failed';

/**
 * One attempt at a recorded delivery, by the outbox protocol (lib/delivery/lease.ts):
 *
 * - it claims the row with a lease, or, finding the lease held by another attempt (Temporal started
 *   this one after a timeout while the first still posts, or a dead worker's lease has not expired),
 *   waits for it, heartbeating, until the row is settled or the lease expires; it never posts under
 *   another attempt's lease;
 * - while posting it heartbeats and renews the lease, and each part is recorded as soon as it is
 *   posted, so a later attempt posts only the missing parts;
 * - a failure is recorded and rethrown for Temporal to retry (a 429 after its retry-after); a
 *   permanent refusal is marked `failed` and not retried; on the last attempt of the budget
 *   (DELIVERY_MAX_ATTEMPTS) a transient failure is marked `failed`, logged at error level, and the
 *   attempt returns `failed`, so the conversation goes on.
 */
export async function attemptDelivery(
  deps: DeliveryAttemptDeps,
  key: string,
  post: (progress: PartProgress) => Promise<SentMessage>,
): Promise<DeliveryOutcome> {
  const ctx = Context.current();
  const leaseMs = deps.leaseMs ?? DELIVERY_LEASE_MS;
  const redact = deps.redact ?? ((text: string) => text);
  const owner = newLeaseOwner();
  const claim = await claimOrWait(deps.db, ctx, key, owner, leaseMs);
  if (claim.status === 'delivered' || claim.status === 'failed') return claim.status;
  if (claim.status === 'held') {
    // The holder renews its lease: it is alive and posting. It settles the row; this attempt retries.
    throw ApplicationFailure.create({
      message: `delivery ${key} is being posted by another attempt (${claim.owner ?? 'unknown'}); trying again when its lease ends`,
      type: 'DeliveryLeaseHeld',
      nextRetryDelay: Math.max(HELD_POLL_MS, claim.remainingMs),
    });
  }

  const keeper = keepLease(deps, ctx, key, owner, leaseMs);
  const posted = [...claim.posted];
  const progress: PartProgress = {
    posted: claim.posted,
    record: async (index, platformMessageId) => {
      posted[index] = platformMessageId;
      await recordParts(deps.db, key, owner, posted, leaseMs);
    },
  };
  try {
    const sent = await post(progress);
    if (!(await markDelivered(deps.db, key, owner, sent.platformMessageId))) {
      deps.logger.warn({ deliveryKey: key, owner }, 'a delivery was posted after its lease was lost; the new owner settles the row');
    }
    return 'delivered';
  } catch (err) {
    if (err instanceof LeaseLostError) throw ApplicationFailure.create({ message: err.message, type: 'DeliveryLeaseLost' });
    const message = redact((err as Error).message ?? String(err)).slice(0, 1000);
    const failure = toDeliveryFailure(err);
    const permanent = failure instanceof ApplicationFailure && failure.nonRetryable;
    if (permanent || ctx.info.attempt >= DELIVERY_MAX_ATTEMPTS) {
      await markFailed(deps.db, key, owner, message);
      deps.logger.error(
        { deliveryKey: key, attempts: claim.attempts, permanent, err: message },
        permanent ? 'delivery refused by the platform; marked failed' : 'delivery failed after its retry budget; marked failed, the conversation goes on',
      );
      if (permanent) throw failure;
      return 'failed';
    }
    await releaseWithError(deps.db, key, owner, message);
    throw failure;
  } finally {
    keeper.stop();
  }
}

type ActivityContext = ReturnType<typeof Context.current>;

/**
 * Claims the row; while another attempt holds it, waits (heartbeating) for the row to be settled or
 * the lease to end, for at most one lease length. A dead holder's lease expires and is taken over.
 */
async function claimOrWait(db: Kysely<Database>, ctx: ActivityContext, key: string, owner: string, leaseMs: number) {
  const until = Date.now() + leaseMs;
  for (;;) {
    const claim = await claimDelivery(db, key, owner, leaseMs);
    if (claim.status !== 'held' || Date.now() >= until) return claim;
    beat(ctx, { waitingFor: claim.owner });
    await ctx.sleep(Math.min(HELD_POLL_MS, Math.max(50, claim.remainingMs)));
  }
}

/** Heartbeats and renews the lease while the post runs; a failed renewal is left to recordParts to notice. */
function keepLease(deps: DeliveryAttemptDeps, ctx: ActivityContext, key: string, owner: string, leaseMs: number): { stop(): void } {
  beat(ctx);
  const timer = setInterval(() => {
    beat(ctx);
    renewLease(deps.db, key, owner, leaseMs).then(
      (held) => {
        if (!held) deps.logger.warn({ deliveryKey: key, owner }, 'a delivery lost its lease while posting');
      },
      (err: unknown) => deps.logger.warn({ deliveryKey: key, err: (err as Error).message }, 'renewing a delivery lease failed'),
    );
  }, deps.renewMs ?? DELIVERY_RENEW_MS);
  return { stop: () => clearInterval(timer) };
}

/** Local activities (the webhook platform's delivery, a database write) have no heartbeats. */
function beat(ctx: ActivityContext, details?: unknown): void {
  if (!ctx.info.isLocal) ctx.heartbeat(details);
}

/**
 * Tells Temporal's retry policy what a platform refusal means: a 429 is retried after exactly the
 * retry-after the platform asked for; a permanent refusal (bad token, missing permission, unknown
 * channel) is not retried at all, and its message names the platform and the cause. Other errors are
 * rethrown unchanged for the usual backoff.
 */
export function toDeliveryFailure(err: unknown): unknown {
  if (!(err instanceof PlatformError)) return err;
  if (err.permanent) {
    return ApplicationFailure.create({ message: `delivery to ${err.platform} refused: ${err.message}`, type: 'PlatformPermanentError', nonRetryable: true, details: [{ platform: err.platform, status: err.status }], cause: err });
  }
  if (err.retryAfterMs !== undefined) {
    return ApplicationFailure.create({ message: err.message, type: 'PlatformRateLimited', nextRetryDelay: err.retryAfterMs, details: [{ platform: err.platform, status: err.status }], cause: err });
  }
  return err;
}
