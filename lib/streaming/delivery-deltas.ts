import type { StreamDelta } from '../llm/types.js';
import { ReplyTextReader } from './reply-text.js';

/**
 * The delivery key a piece of streamed text will be delivered under, as the channel workflow names
 * them (activities/deliver-reply.ts): `text` for the answer's plain text, `tool:<callId>` for the
 * text of a `reply` tool call.
 */
export const TEXT_KEY = 'text';
export const replyToolKey = (callId: string): string => `tool:${callId}`;

/** The only tool whose argument is shown while it streams: its `text` is a message to the user. */
const REPLY_TOOL = 'reply';

export interface KeyedDelta {
  key: string;
  text: string;
}

/** Turns provider deltas into user-visible text per delivery key; other tools' arguments are ignored. */
export class DeltaRouter {
  private readonly readers = new Map<string, ReplyTextReader>();

  route(delta: StreamDelta): KeyedDelta | undefined {
    if (delta.type === 'text') return delta.text ? { key: TEXT_KEY, text: delta.text } : undefined;
    if (delta.name !== REPLY_TOOL) return undefined;
    let reader = this.readers.get(delta.callId);
    if (!reader) this.readers.set(delta.callId, (reader = new ReplyTextReader()));
    const text = reader.push(delta.partialJson);
    return text ? { key: replyToolKey(delta.callId), text } : undefined;
  }

  /** A new attempt starts: its tool calls have new ids and their arguments start from scratch. */
  reset(): void {
    this.readers.clear();
  }
}

/** The delivery keys the workflow will deliver for a final answer (mirrors workflows/turn-tools.ts). */
export function deliveredKeys(result: { text: string; toolCalls: { id: string; name: string; input: Record<string, unknown> }[] }): Map<string, string> {
  const keys = new Map<string, string>();
  if (result.text.trim()) keys.set(TEXT_KEY, result.text);
  for (const call of result.toolCalls) {
    const text = call.input.text;
    if (call.name === REPLY_TOOL && typeof text === 'string' && text.trim()) keys.set(replyToolKey(call.id), text);
  }
  return keys;
}
