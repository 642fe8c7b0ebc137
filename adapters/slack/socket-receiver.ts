import { SocketModeReceiver, type App, type SocketModeReceiverOptions } from '@slack/bolt';
import type { Logger } from 'pino';
import type { Scrubber } from './scrub.js';

/** What the Socket Mode client emits for every envelope (the fields this receiver reads). */
interface SlackEventArgs {
  ack: (response?: Record<string, unknown>) => Promise<void>;
  envelope_id?: string;
  type?: string;
  body: Record<string, unknown>;
  retry_num?: number;
  retry_reason?: string;
}

/**
 * Bolt's Socket Mode receiver, acknowledging an envelope only after the app has processed it.
 *
 * Bolt acks Events API envelopes before any listener runs. Slack redelivers an envelope only while it
 * is unacknowledged, so with Bolt's order a message whose hand-off to its channel workflow failed (or
 * whose process died in between) would be lost. Here the ack is sent once the listener has finished,
 * i.e. once the channel workflow accepted the message; a failure leaves the envelope unacked and
 * Slack delivers it again (on this connection or the next), and the workflow deduplicates by message id.
 * Events must be acked within 3 seconds: submitting to a channel workflow takes milliseconds.
 */
export class AckAfterProcessingReceiver extends SocketModeReceiver {
  private target: App | undefined;

  constructor(
    options: SocketModeReceiverOptions,
    private readonly log: Logger,
    private readonly scrub: Scrubber,
  ) {
    super(options);
    this.client.removeAllListeners('slack_event');
    this.client.on('slack_event', (args: SlackEventArgs) => void this.dispatch(args));
  }

  override init(app: App): void {
    super.init(app);
    this.target = app;
  }

  private async dispatch(args: SlackEventArgs): Promise<void> {
    if (!this.target) return;
    try {
      await this.target.processEvent({
        body: args.body,
        // Bolt calls this before the listeners; the real ack waits for them (below).
        ack: async () => undefined,
        retryNum: args.retry_num,
        retryReason: args.retry_reason,
      });
    } catch (err) {
      this.log.warn(
        { envelopeId: args.envelope_id, type: args.type, retryNum: args.retry_num, err: this.scrub(err instanceof Error ? err.message : String(err)) },
        'slack event not processed; leaving it unacknowledged so Slack redelivers it',
      );
      return;
    }
    try {
      await args.ack();
    } catch (err) {
      // The socket closed after processing: Slack will redeliver, and the duplicate is dropped by message id.
      this.log.info({ envelopeId: args.envelope_id, err: this.scrub(err instanceof Error ? err.message : String(err)) }, 'slack ack not sent');
    }
  }
}
