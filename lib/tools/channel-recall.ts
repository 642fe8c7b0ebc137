import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../db/schema.js';
import { defineTool, type Tool } from './tool.js';
import { capOutput, MAX_TOOL_OUTPUT_BYTES } from './workspace/output-cap.js';

/**
 * `channel_recall`: lets a branch read older parts of its channel's transcript (the `messages` table),
 * which its context no longer holds. The channel is the tool context's `channelId`: the tool activity
 * passes the id of the channel the branch belongs to.
 */

export const DEFAULT_RECALL_LIMIT = 20;
export const MAX_RECALL_LIMIT = 100;
/** One long message must not take the whole result. */
export const MAX_RECALLED_MESSAGE_CHARS = 2000;

export const channelRecallInput = z
  .object({
    query: z.string().min(1).max(500).optional().describe('Only messages containing this text (case-insensitive).'),
    before_turn: z.number().int().min(0).optional().describe('Only messages of turns before this turn number.'),
    limit: z.number().int().min(1).max(MAX_RECALL_LIMIT).optional().describe(`How many messages, the most recent matching ones (default ${DEFAULT_RECALL_LIMIT}).`),
  })
  .strict();

export type ChannelRecallInput = z.infer<typeof channelRecallInput>;

export interface RecalledMessage {
  turn: number | null;
  name: string;
  text: string;
}

/** The most recent matching messages of `channelId`, returned oldest first. */
export async function recallChannel(db: Kysely<Database>, channelId: string, input: ChannelRecallInput): Promise<RecalledMessage[]> {
  let q = db
    .selectFrom('messages')
    .select(['id', 'direction', 'sender_id', 'sender_name', 'text', 'turn_seq'])
    .where('channel_id', '=', channelId);
  if (input.before_turn !== undefined) q = q.where('turn_seq', '<', input.before_turn);
  if (input.query) q = q.where(sql<boolean>`strpos(lower(${sql.ref('text')}), lower(${input.query})) > 0`);
  const rows = await q
    .orderBy('id', 'desc')
    .limit(input.limit ?? DEFAULT_RECALL_LIMIT)
    .execute();
  return rows.reverse().map((r) => ({
    turn: r.turn_seq,
    name: r.direction === 'outbound' ? 'you' : (r.sender_name ?? r.sender_id ?? 'user'),
    text: r.text,
  }));
}

/** "[turn N] name: text", one message per line (line breaks inside a message kept, indented). */
export function formatRecalled(messages: RecalledMessage[]): string {
  return messages
    .map((m) => {
      const text = m.text.length > MAX_RECALLED_MESSAGE_CHARS ? `${m.text.slice(0, MAX_RECALLED_MESSAGE_CHARS)}… [message cut]` : m.text;
      return `[turn ${m.turn ?? '?'}] ${m.name}: ${text.replace(/\n/g, '\n  ')}`;
    })
    .join('\n');
}

export function makeChannelRecallTool(db: Kysely<Database>, options: { maxOutputBytes?: number } = {}): Tool<typeof channelRecallInput> {
  return defineTool({
    name: 'channel_recall',
    description:
      "Read older messages of this conversation's transcript, which may no longer be in your context: " +
      'the most recent matching ones, shown oldest first as "[turn N] name: text" ("you" are your own messages).',
    input: channelRecallInput,
    async run(input, context) {
      const found = await recallChannel(db, context.channelId, input);
      if (!found.length) {
        const filters = [input.query ? `containing "${input.query}"` : '', input.before_turn !== undefined ? `before turn ${input.before_turn}` : ''].filter(Boolean);
        return `No messages found${filters.length ? ` ${filters.join(' ')}` : ''} in this conversation.`;
      }
      return capOutput(formatRecalled(found), options.maxOutputBytes ?? MAX_TOOL_OUTPUT_BYTES);
    },
  });
}
