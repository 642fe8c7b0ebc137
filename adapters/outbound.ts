/**
 * What a messaging adapter offers the worker's activities. The delivery activity handles idempotency
 * (one post per delivery key); adapters only talk to their platform. Everything beyond `send` is
 * optional: a platform without edits simply does not stream, one without reactions ignores `react`.
 */
export interface OutboundMessage {
  /** Unique per delivery; adapters that support it pass it to the platform as a nonce. */
  deliveryKey: string;
  conversationId: string;
  text: string;
  /** The platform message id being answered, when there is one. */
  replyTo?: string;
  /**
   * The delivery outbox's record of a split reply (activities/delivery-attempt.ts). An adapter that
   * splits posts only from part `posted.length` on, and calls `record` right after each part it
   * posts, before the next: so an attempt on another worker posts only what is still missing.
   * Absent for posts outside the outbox (streamed drafts).
   */
  progress?: PartProgress;
}

export interface PartProgress {
  /** Platform message ids of the parts an earlier attempt posted, in order. */
  readonly posted: readonly string[];
  /** Persists part `index` (0-based); throws if this attempt lost its claim, which stops the post. */
  record(index: number, platformMessageId: string): Promise<void>;
}

export interface SentMessage {
  /** The platform's id of the (first) message posted; a long text split in parts reports the first. */
  platformMessageId: string;
  /** Every part's id, in order, when the text was split. */
  partIds?: string[];
}

export interface OutboundAdapter {
  /** The platform key of channel workflows this adapter serves (see adapters/platform-key.ts). */
  readonly platform: string;
  /** Posts the message, split at the platform's limit if needed. Throw to have the activity retried. */
  send(message: OutboundMessage): Promise<SentMessage>;
  /**
   * Replaces the text of a message this adapter posted (streamed replies are edited in place).
   * A text beyond one message's limit may be cut by the adapter; the final delivery posts the rest.
   */
  edit?(conversationId: string, platformMessageId: string, text: string): Promise<void>;
  /** Adds an emoji reaction to a platform message (the `react` tool). */
  react?(conversationId: string, platformMessageId: string, emoji: string): Promise<void>;
  /** Shows that the agent is working (typing indicator, assistant status); refreshed while a turn runs. */
  typing?(conversationId: string): Promise<void>;
  /** How often the platform lets a message be edited, for streaming coalescing; default 1000 ms. */
  readonly minEditIntervalMs?: number;
  /** Longest text one message may hold on this platform. */
  readonly maxMessageChars?: number;
}

export class OutboundAdapters {
  private readonly byPlatform = new Map<string, OutboundAdapter>();

  constructor(adapters: OutboundAdapter[] = []) {
    for (const adapter of adapters) this.register(adapter);
  }

  register(adapter: OutboundAdapter): void {
    this.byPlatform.set(adapter.platform, adapter);
  }

  get(platform: string): OutboundAdapter | undefined {
    return this.byPlatform.get(platform);
  }

  all(): OutboundAdapter[] {
    return [...this.byPlatform.values()];
  }
}
