/**
 * The two ways an outbound request made on someone else's behalf can end badly. Their messages are
 * written to be stored and shown (a heartbeat's last error, a tool result): they say "refused" or
 * "failed" and why in our words, never what a remote host answered, so a stored error cannot be
 * used to probe which internal ports are open or what they say.
 */

/** The destination is not one the server may reach (address policy, scheme, credentials). */
export class UrlRefusedError extends Error {
  override name = 'UrlRefusedError';
  constructor(readonly reason: string) {
    super(`refused: ${reason}`);
  }
}

/** The destination was allowed but the request did not complete (DNS, connect, timeout, size, redirects). */
export class FetchFailedError extends Error {
  override name = 'FetchFailedError';
  /** `detail`: for the operator's log only (e.g. ECONNREFUSED), never for a stored or shown message. */
  constructor(
    readonly reason: string,
    readonly detail?: string,
  ) {
    super(`failed: ${reason}`);
  }
}
