import { ActivityCancellationType, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';
import { DELIVERY_MAX_ATTEMPTS } from './delivery-budget.js';

/**
 * Timeouts and retries of the activities a turn runs, shared by every workflow that runs turns
 * (channels, heartbeats), so an LLM call or a tool behaves the same wherever it is made.
 */

/**
 * 25 attempts: about 9 minutes of backoff (0.2 s doubling to 30 s), enough to ride out a database
 * restart. Never unbounded: a write that cannot succeed (a row the database refuses) would otherwise
 * be retried for ever and wedge its conversation; after the last attempt the failure reaches the
 * workflow, whose turn tells the user and goes on (a heartbeat counts a failed run).
 * Retry policies are not part of the command sequence: recorded histories replay unchanged.
 */
export const STORAGE_RETRY = { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 25 } as const;

/** Bookkeeping writes to our own database: milliseconds, retried while the database is away (bounded). */
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

/**
 * Platform deliveries (replies, heartbeat results), by the outbox protocol (activities/delivery-attempt.ts).
 * The activity heartbeats while it posts, so a dead worker's attempt is noticed in 20 s rather than
 * at the start-to-close; a second attempt started meanwhile finds the first's lease and never posts
 * alongside it. The budget is DELIVERY_MAX_ATTEMPTS, counted by the activity itself: its last attempt
 * marks the delivery `failed` and returns, so the turn ends normally (about 2 minutes of backoff, plus
 * whatever retry-after a rate limit asks for). The two attempts beyond it only replace attempts lost
 * to a crash or a timeout; the schedule-to-close bounds everything.
 */
export const DELIVERY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '20 seconds',
  scheduleToCloseTimeout: '15 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: DELIVERY_MAX_ATTEMPTS + 2 },
};

/**
 * A heartbeat's delivery: the same outbox protocol with a shorter budget (3 attempts, at most 10 s
 * apart), so a target that keeps failing fails the run within the heartbeat's own timeout and the
 * breaker counts it; a channel target's row keeps its last error.
 */
export const HEARTBEAT_DELIVERY_OPTIONS: ActivityOptions = {
  ...DELIVERY_OPTIONS,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 3 },
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
