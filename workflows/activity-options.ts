import { ActivityCancellationType, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';

/**
 * Timeouts and retries of the activities a turn runs, shared by every workflow that runs turns
 * (channels, heartbeats), so an LLM call or a tool behaves the same wherever it is made.
 */

export const STORAGE_RETRY = { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '30 seconds' } as const;

/** Bookkeeping writes to our own database: milliseconds, retried until the database answers. */
export const STORAGE_OPTIONS: LocalActivityOptions & ActivityOptions = { startToCloseTimeout: '30 seconds', retry: STORAGE_RETRY };

/**
 * LLM calls: each attempt bounded; the whole call gives up after 10 minutes of transient failures,
 * and the user is told. Auth and invalid requests are non-retryable failures thrown by the activity.
 * The activity heartbeats every 2 s while the model thinks: a crashed worker is noticed in 10 s.
 */
export const LLM_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '10 seconds',
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};

/** Tools: bounded per attempt, few retries (a tool's own failure is returned to the model, not thrown). */
export const TOOL_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
};

/**
 * A worker's task tools (shell, files): a shell command may run up to 30 minutes, so liveness comes
 * from heartbeats, which also carry cancellation to the running command. The workflow waits for a
 * cancelled tool to stop (its process group killed) before it reports itself cancelled.
 */
export const WORKER_TOOL_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '31 minutes',
  heartbeatTimeout: '20 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 3 },
};
