import type { OutboundAdapter } from './outbound.js';

/**
 * The gateway's view of a connected platform: a live connection (gateway WebSocket, Socket Mode,
 * long poll) that turns platform events into `InboundEvent`s. Adapters only normalise and filter;
 * the gateway (lib/gateway/) applies bindings and submits to the channel workflow.
 */

/** Where a message came from, in the platform's own terms; bindings match on these. */
export interface PlatformCoordinates {
  /** Discord guild, Slack workspace (team). */
  guildId?: string;
  workspaceId?: string;
  /** Discord/Slack channel id; Telegram chat id. */
  channelId?: string;
  chatId?: string;
  /** A thread's own id (Discord thread channel, Slack thread_ts). */
  threadId?: string;
  /** The channel a thread belongs to, so a binding on a channel covers its threads. */
  parentChannelId?: string;
  /** A direct message with one user. */
  isDirect: boolean;
}

export interface InboundEvent {
  /** Adapter kind: discord, slack, telegram. */
  kind: string;
  /** Named adapter instance (several accounts per platform). */
  instance: string;
  /** The channel workflow's platform key for this instance (adapters/platform-key.ts). */
  platform: string;
  /** One conversation = one channel workflow: channel, thread or DM, encoded by the adapter. */
  conversationId: string;
  /** The platform's message id: the deduplication key of the channel workflow. */
  messageId: string;
  text: string;
  sender: { id: string; name?: string; isBot: boolean };
  /** The bot was mentioned (or replied to) in a group context. */
  mentioned: boolean;
  coordinates: PlatformCoordinates;
  receivedAt: string;
}

export type AdapterState = 'starting' | 'connected' | 'reconnecting' | 'stopped' | 'failed';

export interface AdapterStatus {
  kind: string;
  instance: string;
  state: AdapterState;
  /** ISO time of the last state change. */
  since: string;
  /** Scrubbed of tokens. */
  lastError?: string;
  /** Bot user identity once connected. */
  botUser?: string;
}

export type InboundSink = (event: InboundEvent) => Promise<void>;

/**
 * Someone reacted to a message in a conversation: the gateway's input for deciding approvals by
 * reaction (docs/security.md). Only added reactions are reported.
 */
export interface InboundReaction {
  kind: string;
  instance: string;
  platform: string;
  /**
   * The conversation, as in InboundEvent; on Telegram the chat (a reaction does not say its forum
   * topic), which also matches the chat's topics.
   */
  conversationId: string;
  /** The platform id of the message reacted to. */
  messageId: string;
  user: { id: string; isBot: boolean };
  /** The emoji added. */
  emoji: string[];
}

export type ReactionSink = (reaction: InboundReaction) => Promise<void>;

export interface InboundAdapter {
  readonly kind: string;
  readonly instance: string;
  /**
   * Connects and starts delivering events to `sink`; resolves once the first connection is up (or
   * failed). Adapters that can also deliver reactions (to decide approvals) hand them to `reactions`.
   */
  start(sink: InboundSink, reactions?: ReactionSink): Promise<void>;
  stop(): Promise<void>;
  status(): AdapterStatus;
  /** The same instance's outbound side, registered with the worker's OutboundAdapters. */
  readonly outbound: OutboundAdapter;
}
