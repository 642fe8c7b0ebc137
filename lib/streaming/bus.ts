import { EventEmitter } from 'node:events';

/**
 * What a client of `GET .../messages/stream` sees of a turn while it runs. `delta` appends text to
 * the reply under `key` (`text`, or `tool:<callId>` for a `reply` call); `reset` voids everything
 * shown for that step (a retried or fallen-back model call starts over); `done` is a reply as it was
 * recorded in the transcript, streamed or not, and replaces whatever was shown for its key.
 */
export type StreamEvent =
  | { type: 'delta'; channelId: string; turn: number; step: number; key: string; text: string }
  | { type: 'reset'; channelId: string; turn: number; step: number; reason: string }
  | { type: 'done'; channelId: string; turn: number; step: number; key: string; messageId: string; text: string; kind: 'reply' | 'error' };

export type StreamListener = (event: StreamEvent) => void;

/**
 * Carries stream events from the worker (where the model streams) to the API (where SSE clients
 * listen), which may be another process. `publish` never throws and never waits for listeners:
 * streaming is a courtesy, and the transcript stays the record.
 */
export interface StreamBus {
  publish(event: StreamEvent): void;
  /** Events of one channel (workflow id), in publish order; returns the unsubscribe function. */
  subscribe(channelId: string, listener: StreamListener): Promise<() => void>;
  close(): Promise<void>;
}

/**
 * The bus within one process: used with the embedded database, whose single Postgres session cannot
 * deliver notifications from one connection to another (see PgStreamBus), and which only one process
 * can own, so worker and API are then always in the same process.
 */
export class LocalStreamBus implements StreamBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per connected SSE client of a channel; the default cap of 10 would warn.
    this.emitter.setMaxListeners(0);
  }

  publish(event: StreamEvent): void {
    this.emitter.emit(event.channelId, event);
  }

  async subscribe(channelId: string, listener: StreamListener): Promise<() => void> {
    this.emitter.on(channelId, listener);
    return () => void this.emitter.off(channelId, listener);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}
