/**
 * What a messaging adapter offers the delivery activity: post one message to its platform. The
 * delivery activity handles idempotency (one post per delivery key); adapters only talk to the platform.
 */
export interface OutboundMessage {
  /** Unique per delivery; adapters that support it pass it to the platform as a nonce. */
  deliveryKey: string;
  conversationId: string;
  text: string;
  /** The platform message id being answered, when there is one. */
  replyTo?: string;
}

export interface OutboundAdapter {
  readonly platform: string;
  /** Posts the message; returns the platform's id for it. Throw to have the activity retried. */
  send(message: OutboundMessage): Promise<{ platformMessageId: string }>;
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
}
