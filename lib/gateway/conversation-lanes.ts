import { ConversationBusyError } from '../channel/conversation-busy.js';
import type { Logger } from '../logger.js';
import { abortableSleep, GatewayStoppingError, retryUntilAccepted, type RetryPolicy } from './submit-retry.js';

/**
 * Bounds of the gateway's backpressure per conversation. A conversation whose pending queue is full
 * (ConversationBusyError) is one user outpacing their own chat: the gateway must never let that hold
 * up the platform for everybody else, nor hold memory without end.
 */
export interface Backpressure {
  /** Submissions of one conversation in the gateway at once (handed over, or waiting for room); past it: dropped. */
  maxInFlightPerConversation: number;
  /** Busy refusals a waiting message takes (each after the conversation's Retry-After) before it is dropped. */
  busyAttempts: number;
  /** Failures of any kind a waiting message takes before it is dropped (Temporal down while it waits). */
  maxAttempts: number;
}

export const DEFAULT_BACKPRESSURE: Backpressure = { maxInFlightPerConversation: 5, busyAttempts: 3, maxAttempts: 8 };

/** One message for a conversation: how to submit it, and what to do once it is in or dropped. */
export interface LaneJob {
  submit: () => Promise<void>;
  log: Logger;
  /** Where a notice about this message goes (the platform's outbound). */
  target: { platform: string; conversationId: string; messageId: string };
}

/** Why messages were dropped; the caller tells the user once (slow-down notice). */
export type DropReason = 'busy' | 'in_flight';

interface Lane {
  /** Jobs of this conversation in the gateway: the one being handed over directly plus the waiting ones. */
  size: number;
  /** Messages refused for a full queue, in arrival order, retried by one drain loop. */
  waiting: LaneJob[];
  draining: boolean;
}

/**
 * Per-conversation lanes between the adapters and the channel workflows. A message for a conversation
 * with room is handed over directly, and the adapter's sink waits for it (so a Temporal outage still
 * holds the adapter back and nothing is lost). A message refused for a full queue does not keep the
 * sink waiting: it moves to the conversation's waiting line, retried a bounded number of times after
 * the conversation's Retry-After, in order, while the adapter goes on with other chats; later
 * messages of that conversation queue behind it, so per-conversation order holds. Past the bounds the
 * messages are dropped and `onDropped` runs once for the lot (one notice per burst, not per message).
 * Waiting messages are held in memory only: a gateway stopping drops them, as their bounded retries
 * would; at most `maxInFlightPerConversation` per conversation.
 */
export class ConversationLanes {
  private readonly lanes = new Map<string, Lane>();
  private readonly drains = new Set<Promise<void>>();

  constructor(
    private readonly options: {
      bounds: Backpressure;
      policy: RetryPolicy;
      signal: AbortSignal;
      onDropped: (key: string, jobs: LaneJob[], reason: DropReason) => void;
    },
  ) {}

  /** Resolves once the message is in, waiting in its lane, or dropped; rejects as retryUntilAccepted does. */
  async accept(key: string, job: LaneJob): Promise<void> {
    const lane = this.lanes.get(key) ?? { size: 0, waiting: [], draining: false };
    this.lanes.set(key, lane);
    if (lane.size >= this.options.bounds.maxInFlightPerConversation) {
      job.log.warn({ inFlight: lane.size }, 'conversation has too many messages in the gateway; dropped');
      this.options.onDropped(key, [job], 'in_flight');
      return;
    }
    lane.size++;
    if (lane.waiting.length > 0 || lane.draining) {
      // Behind earlier messages of the same conversation: order holds, and the adapter moves on.
      lane.waiting.push(job);
      return;
    }
    let refusal: ConversationBusyError;
    try {
      await retryUntilAccepted(job.submit, { ...this.retryOptions(job), busyAttempts: 1 });
      this.release(key, lane, 1);
      return;
    } catch (err) {
      if (!(err instanceof ConversationBusyError)) {
        this.release(key, lane, 1);
        throw err;
      }
      refusal = err;
    }
    job.log.info({ retryAfterSeconds: refusal.retryAfterSeconds }, 'conversation queue full; the message waits in its lane');
    lane.waiting.push(job);
    // Another message of this conversation (a platform delivering in parallel) may have started the loop already.
    if (!lane.draining) this.drain(key, lane, refusal.retryAfterSeconds * 1000);
  }

  /** Lets every drain loop see the abort and finish (waiting messages are dropped). */
  async settled(): Promise<void> {
    await Promise.all([...this.drains]);
  }

  private drain(key: string, lane: Lane, firstWaitMs: number): void {
    lane.draining = true;
    const run = (async () => {
      // The refusal that parked the first message said how long the conversation needs: wait that first.
      await abortableSleep(firstWaitMs, this.options.signal);
      for (let job = lane.waiting[0]; job; job = lane.waiting[0]) {
        try {
          await retryUntilAccepted(job.submit, { ...this.retryOptions(job), busyAttempts: this.options.bounds.busyAttempts, maxAttempts: this.options.bounds.maxAttempts });
          lane.waiting.shift();
          this.release(key, lane, 1);
        } catch (err) {
          // Still full after the bounded retries (or Temporal gone, or stopping): this message and
          // every one queued behind it are one burst; they go together, with one notice.
          const dropped = lane.waiting.splice(0);
          this.release(key, lane, dropped.length);
          if (err instanceof GatewayStoppingError) {
            job.log.warn({ dropped: dropped.length }, 'gateway stopping; messages waiting for a full conversation dropped');
          } else if (err instanceof ConversationBusyError) {
            job.log.warn({ dropped: dropped.length }, 'conversation still full after bounded retries; messages dropped');
            this.options.onDropped(key, dropped, 'busy');
          } else {
            job.log.error({ dropped: dropped.length, error: (err as Error).message }, 'messages waiting for a full conversation could not be submitted; dropped');
          }
        }
      }
      lane.draining = false;
      if (lane.size === 0) this.lanes.delete(key);
    })();
    this.drains.add(run);
    void run.finally(() => this.drains.delete(run));
  }

  private release(key: string, lane: Lane, count: number): void {
    lane.size -= count;
    if (lane.size === 0 && !lane.draining && this.lanes.get(key) === lane) this.lanes.delete(key);
  }

  private retryOptions(job: LaneJob) {
    return {
      policy: this.options.policy,
      signal: this.options.signal,
      onRetry: (err: unknown, attempt: number, delayMs: number) => job.log.warn({ attempt, delayMs, error: (err as Error).message }, 'submitting to the channel workflow failed; retrying'),
    };
  }
}
