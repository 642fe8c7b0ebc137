/** gRPC status RESOURCE_EXHAUSTED (Temporal's in-flight update limit, rate limits of the frontend). */
const GRPC_RESOURCE_EXHAUSTED = 8;
/** gRPC status UNAVAILABLE: Temporal answers it for the operations of an update-with-start it aborted. */
const GRPC_UNAVAILABLE = 14;

/**
 * Whether Temporal refused a call because a limit was reached: RESOURCE_EXHAUSTED (e.g. too many
 * updates in flight on one workflow), or the UNAVAILABLE "workflow update was aborted" Temporal
 * answers for an update-with-start that failed alongside such a refusal. The client wraps the gRPC
 * error (ServiceError, WorkflowUpdate… errors), so the whole cause chain is checked. Such a refusal
 * is the caller's cue to retry later, not a server bug; a Temporal that is down (plain UNAVAILABLE)
 * is not this.
 */
export function isResourceExhausted(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message, details } = e as { code?: unknown; message?: unknown; details?: unknown };
    const text = `${typeof message === 'string' ? message : ''} ${typeof details === 'string' ? details : ''}`;
    if (code === GRPC_RESOURCE_EXHAUSTED || /RESOURCE_EXHAUSTED/.test(text)) return true;
    if (code === GRPC_UNAVAILABLE && /update was aborted|Update-with-Start could not be executed/i.test(text)) return true;
    if (/workflow update was aborted/i.test(text)) return true;
  }
  return false;
}

/** Seconds a client is told to wait after such a refusal: updates finish within seconds. */
export const RESOURCE_EXHAUSTED_RETRY_AFTER_SECONDS = 2;
