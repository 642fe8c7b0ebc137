import type { Kysely } from 'kysely';
import type { OutboundAdapter, OutboundMessage, SentMessage } from '../../adapters/outbound.js';
import type { Database } from '../db/schema.js';
import { splitMessage } from '../../adapters/split.js';
import { draftFor } from './drafts.js';

/**
 * Delivers a reply: by editing its streamed draft into the complete text when there is one (so the
 * user sees one message, not a draft and a copy), else by posting it. A text longer than one platform
 * message keeps its beginning in the draft and posts the rest after it. Safe to repeat: an edit to
 * the same text changes nothing, and the rest carries its own delivery key.
 */
export async function sendOrFinalize(db: Kysely<Database>, adapter: OutboundAdapter, message: OutboundMessage): Promise<SentMessage> {
  const draft = adapter.edit ? await draftFor(db, message.deliveryKey) : undefined;
  if (!draft || !adapter.edit) return adapter.send(message);
  const [head, rest] = splitAt(message.text, adapter.maxMessageChars);
  // The draft is part 0 of the delivery's progress; the rest are parts 1.. (an edit to the same text
  // changes nothing, so a retry repeats it harmlessly and posts only the parts still missing).
  await adapter.edit(message.conversationId, draft.platformMessageId, head);
  const progress = message.progress;
  if (progress && !progress.posted.length) await progress.record(0, draft.platformMessageId);
  if (!rest) return { platformMessageId: draft.platformMessageId };
  const restProgress = progress && { posted: progress.posted.slice(1), record: (index: number, id: string) => progress.record(index + 1, id) };
  const more = await adapter.send({ ...message, deliveryKey: `${message.deliveryKey}:rest`, text: rest, progress: restProgress });
  return { platformMessageId: draft.platformMessageId, partIds: [draft.platformMessageId, ...(more.partIds ?? [more.platformMessageId])] };
}

/**
 * The first message's worth (split where the adapters split: paragraphs, lines, never inside a code
 * block without closing it) and the rest, which the adapter's `send` splits further.
 */
function splitAt(text: string, max: number | undefined): [string, string] {
  if (!max || text.length <= max) return [text, ''];
  const [head = '', ...rest] = splitMessage(text, max);
  return [head, rest.join('\n')];
}
