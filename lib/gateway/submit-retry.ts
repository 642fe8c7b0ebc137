import { WorkflowUpdateFailedError, isGrpcServiceError } from '@temporalio/client';
import { ConversationBusyError } from '../channel/conversation-busy.js';

/** gRPC status codes (grpc-js is not a direct dependency; these numbers are fixed by the gRPC spec). */
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNAUTHENTICATED = 16;

/** The gateway is stopping: the event was not submitted and the adapter must not acknowledge it. */
export class GatewayStoppingError extends Error {
  override readonly name = 'GatewayStoppingError';
}

/**
 * A submission that can never succeed: the channel workflow rejected the message (its validator
 * refused the ids) or the request itself is invalid. Everything else (Temporal down, restarting,
 * overloaded, a timeout, the conversation's queue full) is worth retrying, because the message would
 * otherwise be lost.
 */
export function isPermanentSubmitError(err: unknown): boolean {
  // A full queue is backpressure: the message is retried once the conversation has caught up.
  if (err instanceof ConversationBusyError) return false;
  if (err instanceof WorkflowUpdateFailedError) return true;
  if (isGrpcServiceError(err)) return [GRPC_INVALID_ARGUMENT, GRPC_PERMISSION_DENIED, GRPC_UNAUTHENTICATED].includes(err.code);
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  return cause !== undefined && cause !== err && isPermanentSubmitError(cause);
}

export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_SUBMIT_RETRY: RetryPolicy = { initialMs: 250, maxMs: 30_000 };

/**
 * Runs `attempt` until it succeeds, waiting with capped exponential backoff (and jitter, so many
 * gateways do not hammer a recovering Temporal together) between failures. Stops with
 * GatewayStoppingError when `signal` aborts; a permanent error is rethrown at once.
 */
export async function retryUntilAccepted<T>(
  attempt: () => Promise<T>,
  options: {
    policy: RetryPolicy;
    signal: AbortSignal;
    onRetry: (err: unknown, attempt: number, delayMs: number) => void;
    /**
     * How many ConversationBusyError refusals to take before rethrowing the last one. A full queue is
     * one user outpacing their own conversation: retrying it without end would hold memory (and, on a
     * polling platform, every other chat) hostage to them. Unset: retried like any transient error.
     */
    busyAttempts?: number;
    /** How many failures of any kind to take before rethrowing the last one; unset: no bound. */
    maxAttempts?: number;
  },
): Promise<T> {
  let delay = options.policy.initialMs;
  let busy = 0;
  for (let n = 1; ; n++) {
    if (options.signal.aborted) throw new GatewayStoppingError('gateway stopping before the message was accepted');
    try {
      return await attempt();
    } catch (err) {
      if (isPermanentSubmitError(err)) throw err;
      if (err instanceof ConversationBusyError && options.busyAttempts !== undefined && ++busy >= options.busyAttempts) throw err;
      if (options.maxAttempts !== undefined && n >= options.maxAttempts) throw err;
      // A full conversation says how long it needs (about a turn): never retry sooner than that.
      const floor = err instanceof ConversationBusyError ? err.retryAfterSeconds * 1000 : 0;
      const wait = Math.max(floor, Math.round(delay * (0.8 + Math.random() * 0.4)));
      options.onRetry(err, n, wait);
      await abortableSleep(wait, options.signal);
      delay = Math.min(delay * 2, options.policy.maxMs);
    }
  }
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
