/** gRPC status RESOURCE_EXHAUSTED (Temporal's in-flight update limit, rate limits of the frontend). */
const GRPC_RESOURCE_EXHAUSTED = 8;

/**
 * Whether Temporal refused a call because a limit was reached (e.g. too many updates in flight on
 * one workflow). The client wraps the gRPC error (ServiceError, WorkflowUpdate… errors), so the
 * whole cause chain is checked. Such a refusal is the caller's cue to retry later, not a server bug.
 */
export function isResourceExhausted(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (code === GRPC_RESOURCE_EXHAUSTED) return true;
    if (typeof message === 'string' && /RESOURCE_EXHAUSTED/.test(message)) return true;
  }
  return false;
}

/** Seconds a client is told to wait after such a refusal: updates finish within seconds. */
export const RESOURCE_EXHAUSTED_RETRY_AFTER_SECONDS = 2;
