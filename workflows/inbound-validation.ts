import { ApplicationFailure } from '@temporalio/common';
import {
  DEFAULT_MAX_PENDING_MESSAGES,
  MAX_ENVELOPE_BYTES,
  MAX_MESSAGE_CHARS,
  MAX_MESSAGE_ID_CHARS,
  QUEUE_FULL_FAILURE,
  type ChannelSettings,
  type InboundMessage,
} from './channel-contract.js';

/**
 * The submitMessage update's validator rules. A validator's refusal never reaches the workflow's
 * history and never fails a workflow task: it is how a conversation turns away what would otherwise
 * grow its state without bound. (Validators do not run on replay, so these rules may tighten freely.)
 */

/** Refuses malformed messages: no id or an overlong one, a text-less message whose body was not stored, an oversized envelope. */
export function validateInbound(message: InboundMessage): void {
  if (!message || typeof message.messageId !== 'string' || !message.messageId) throw new Error('message.messageId is required');
  // Ids are remembered (seen) across continue-as-new: their length is part of its bound.
  if (message.messageId.length > MAX_MESSAGE_ID_CHARS) throw new Error(`message.messageId is longer than ${MAX_MESSAGE_ID_CHARS} characters`);
  // Only a recovering run marks a message as already recorded; from outside it would skip the transcript.
  if (message.recorded !== undefined) throw new Error('message.recorded is set by the channel itself, not by callers');
  if (message.text === undefined) {
    // The body lives in inbound_bodies; what travels must stay small, whatever the caller sent.
    if (message.bodyStored !== true) throw new Error('message.text is required unless message.bodyStored is true');
    if (utf8Length(JSON.stringify(message)) > MAX_ENVELOPE_BYTES) throw new Error(`the message without its text is larger than ${MAX_ENVELOPE_BYTES} bytes`);
    return;
  }
  if (typeof message.text !== 'string' || !message.text.trim()) throw new Error('message.text must be a non-empty string');
  if (message.text.length > MAX_MESSAGE_CHARS) throw new Error(`message.text is longer than ${MAX_MESSAGE_CHARS} characters`);
}

export function maxPendingOf(settings: Pick<ChannelSettings, 'maxPendingMessages'>): number {
  return settings.maxPendingMessages ?? DEFAULT_MAX_PENDING_MESSAGES;
}

/**
 * Refuses a new message while `pending` messages wait (the caller lets duplicates through: they add
 * nothing). The failure type lets the intake tell a full queue from a bad message: the API answers
 * 429 with Retry-After, the gateway retries with backoff.
 */
export function refuseWhenQueueFull(pending: number, limit: number): void {
  if (pending < limit) return;
  throw ApplicationFailure.create({
    type: QUEUE_FULL_FAILURE,
    nonRetryable: true,
    message: `this conversation already has ${pending} messages waiting to be answered (the limit is ${limit}); retry later`,
  });
}

/** UTF-8 length of a string (what a JSON payload of it weighs), without TextEncoder. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
