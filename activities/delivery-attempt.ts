import { ApplicationFailure } from '@temporalio/common';
import type { Kysely } from 'kysely';
import { PlatformError } from '../adapters/platform-error.js';
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
  /** The leak guard's redaction: a platform error can quote the request (a token in a URL). */
  redact: (text: string) => string = (text) => text,
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
      .set({ attempts: delivery.attempts + 1, last_error: redact((err as Error).message).slice(0, 1000) })
      .where('key', '=', delivery.key)
      .execute();
    throw toDeliveryFailure(err);
  }
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
