import { LlmError } from '../errors.js';

/**
 * A whole-response deadline for streamed requests. The SDKs' `timeout` only covers the wait for the
 * response headers; a stream that stalls after them would hold the attempt until the activity's own
 * timeout. This aborts the request once `timeoutMs` have passed since it started, and tells the
 * caller whether the abort was ours (a timeout, which falls back) or the caller's (a cancellation).
 */
export interface AttemptTimeout {
  signal: AbortSignal;
  /** Converts what the SDK threw after our abort into a timeout; anything else is returned as is. */
  explain(err: unknown, provider: string): unknown;
  clear(): void;
}

export function attemptTimeout(timeoutMs: number | undefined, outer: AbortSignal | undefined): AttemptTimeout {
  const controller = new AbortController();
  let fired = false;
  const timer =
    timeoutMs && timeoutMs > 0
      ? setTimeout(() => {
          fired = true;
          controller.abort();
        }, timeoutMs)
      : undefined;
  const signal = outer ? AbortSignal.any([outer, controller.signal]) : controller.signal;
  return {
    signal,
    explain(err, provider) {
      if (fired && !outer?.aborted) return new LlmError('timeout', `${provider}: the streamed response did not finish within ${timeoutMs} ms`);
      return err;
    },
    clear() {
      if (timer) clearTimeout(timer);
    },
  };
}
