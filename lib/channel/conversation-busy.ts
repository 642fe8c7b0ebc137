import { ApplicationFailure, WorkflowUpdateFailedError } from '@temporalio/client';
import { QUEUE_FULL_FAILURE } from '../../workflows/channel-contract.js';

/** What a caller turned away for a full queue is told to wait: about one turn. */
export const QUEUE_FULL_RETRY_AFTER_SECONDS = 5;

/**
 * The conversation's pending queue is full (`[defaults] max_pending_messages`): the message was not
 * taken and nothing of it reached the workflow. Backpressure, not a failure: the API answers 429
 * with Retry-After, the gateway waits and submits it again.
 */
export class ConversationBusyError extends Error {
  override readonly name = 'ConversationBusyError';
  readonly retryAfterSeconds = QUEUE_FULL_RETRY_AFTER_SECONDS;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The channel's validator refused the update because its queue is full. */
export function isQueueFullRejection(err: unknown): err is WorkflowUpdateFailedError {
  return err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === QUEUE_FULL_FAILURE;
}
