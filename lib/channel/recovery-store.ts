import { sql, type Kysely } from 'kysely';
import type { DeliverReplyInput } from '../../activities/contract.js';
import type { Database } from '../db/schema.js';
import { AUTONOMY_LEVELS, type Autonomy } from '../../workflows/approval-policy.js';
import type { ChannelKey, InboundMessage } from '../../workflows/channel-contract.js';
import { validateInbound } from '../../workflows/inbound-validation.js';
import { processWorkflowId } from '../../workflows/process-contract.js';
import type { InboundBodiesTable } from './inbound-bodies.js';

/**
 * What the database knows of a channel's earlier runs, read by a fresh run that did not continue from
 * another (activities/recover-channel.ts): every row a turn writes carries its channel id and turn,
 * so the last turn, the messages already answered and the ones still waiting can be found again.
 */

type Db = Kysely<Database>;
const bodiesTable = (db: Db) => db.withTables<{ inbound_bodies: InboundBodiesTable }>();

/**
 * Messages still waiting at intake are brought back only this young: older bodies are ones a full
 * queue refused and nobody retried (inbound-bodies.ts removes them after 7 days); answering those out
 * of the blue would surprise more than help.
 */
const WAITING_BODY_MAX_AGE = '1 day';
/** Replies recorded but not posted are posted again only this young, and at most this many. */
const UNDELIVERED_MAX_AGE = '1 day';
const UNDELIVERED_MAX = 20;
/** The autonomy of a recovered message whose binding's is unknown (no envelope): the strictest. */
const UNKNOWN_AUTONOMY: Autonomy = AUTONOMY_LEVELS[0];
/** The tool by which the model ends a turn without answering. */
const SKIP_TOOL = 'skip';

/**
 * The last turn anything was recorded at: transcript rows, context rows, and compaction's summaries
 * and archives (compacted turns leave context_entries but not these).
 */
export async function lastTurn(db: Db, channelId: string): Promise<number> {
  const { rows } = await sql<{ turn: number | null }>`
    SELECT GREATEST(
      (SELECT max(turn_seq) FROM messages WHERE channel_id = ${channelId}),
      (SELECT max(turn_seq) FROM context_entries WHERE channel_id = ${channelId}),
      (SELECT max(through_turn) FROM context_summaries WHERE channel_id = ${channelId}),
      (SELECT max(through_turn) FROM conversation_archives WHERE channel_id = ${channelId})
    ) AS turn`.execute(db);
  return Number(rows[0]?.turn ?? 0);
}

/** The newest inbound message ids of the transcript, oldest first: the deduplication window. */
export async function recentInboundIds(db: Db, channelId: string, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('messages')
    .select('platform_message_id')
    .where('channel_id', '=', channelId)
    .where('direction', '=', 'inbound')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => r.platform_message_id).reverse();
}

/**
 * The messages of turn `turn` when that turn was cut off: it recorded them but recorded no reply (a
 * recorded reply is delivered again by its key, see undeliveredReplies), and its model's last answer
 * was not a deliberate silence (only `skip`, or nothing at all). An answer the model wrote but the run
 * never delivered does not count: the user never saw it, so the messages are answered again.
 */
export async function cutOffTurnMessages(db: Db, channelId: string, turn: number): Promise<InboundMessage[]> {
  if (turn < 1) return [];
  const rows = await db
    .selectFrom('messages')
    .select(['direction', 'platform_message_id', 'sender_id', 'sender_name', 'created_at'])
    .where('channel_id', '=', channelId)
    .where('turn_seq', '=', turn)
    .orderBy('id')
    .execute();
  if (!rows.length || rows.some((r) => r.direction === 'outbound')) return [];
  const last = await db
    .selectFrom('context_entries')
    .select('content')
    .where('channel_id', '=', channelId)
    .where('turn_seq', '=', turn)
    .where('role', '=', 'assistant')
    .orderBy('step', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (last && isSilence(last.content)) return [];
  return rows.map((r) => ({
    messageId: r.platform_message_id,
    bodyStored: true,
    recorded: true,
    receivedAt: new Date(r.created_at).toISOString(),
    ...(r.sender_id ? { sender: { id: r.sender_id, ...(r.sender_name ? { name: r.sender_name } : {}) } } : {}),
    // The transcript does not keep the binding's autonomy: assume the strictest.
    autonomy: UNKNOWN_AUTONOMY,
  }));
}

/** The model chose to say nothing: it called only `skip`, or answered with neither text nor tool calls. */
function isSilence(content: unknown): boolean {
  const parts = (content as { parts?: { type?: string; name?: string; text?: string }[] } | null)?.parts ?? [];
  const calls = parts.filter((p) => p.type === 'tool_call');
  if (calls.length) return calls.every((p) => p.name === SKIP_TOOL);
  return !parts.some((p) => p.type === 'text' && p.text?.trim());
}

/**
 * Messages the intake stored and the transcript does not hold: accepted (or refused for a full queue)
 * but never answered, oldest first, as they were submitted. Anything the submitMessage validator
 * would refuse is left out: the intake stores a body before the update is validated.
 */
export async function waitingMessages(db: Db, channelId: string, limit: number): Promise<InboundMessage[]> {
  if (limit < 1) return [];
  const rows = await bodiesTable(db)
    .selectFrom('inbound_bodies')
    .select(['message_id', 'envelope', 'created_at'])
    .where('channel_id', '=', channelId)
    .where('created_at', '>', sql<Date>`now() - ${WAITING_BODY_MAX_AGE}::interval`)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('messages')
            .select('id')
            .where('messages.channel_id', '=', channelId)
            .where('messages.direction', '=', 'inbound')
            .whereRef('messages.platform_message_id', '=', 'inbound_bodies.message_id'),
        ),
      ),
    )
    .orderBy('created_at')
    .orderBy('message_id')
    .limit(limit)
    .execute();
  const messages: InboundMessage[] = [];
  for (const row of rows) {
    const message = fromEnvelope(row.message_id, row.envelope, new Date(row.created_at).toISOString());
    try {
      validateInbound(message);
      messages.push(message);
    } catch {
      // Never accepted by the channel: not brought back.
    }
  }
  return messages;
}

/** The stored envelope, field by field (it is JSON a caller shaped); the strictest autonomy when there is none. */
function fromEnvelope(messageId: string, envelope: unknown, createdAt: string): InboundMessage {
  const e = (envelope && typeof envelope === 'object' ? envelope : {}) as Record<string, unknown>;
  const sender = e.sender as { id?: unknown; name?: unknown } | undefined;
  const autonomy = AUTONOMY_LEVELS.find((a) => a === e.autonomy);
  return {
    messageId,
    bodyStored: true,
    receivedAt: typeof e.receivedAt === 'string' ? e.receivedAt : createdAt,
    ...(sender && typeof sender.id === 'string' ? { sender: { id: sender.id, ...(typeof sender.name === 'string' ? { name: sender.name } : {}) } } : {}),
    ...(typeof e.isDirect === 'boolean' ? { isDirect: e.isDirect } : {}),
    ...(autonomy ? { autonomy } : envelope ? {} : { autonomy: UNKNOWN_AUTONOMY }),
  };
}

/**
 * Replies recorded with their delivery row but never posted: the run closed while delivering them.
 * Rebuilt as deliverReply inputs with the same delivery key, so delivering them again posts each once.
 */
export async function undeliveredReplies(db: Db, key: ChannelKey & { channelId: string }): Promise<DeliverReplyInput[]> {
  const rows = await db
    .selectFrom('deliveries')
    .innerJoin('messages', 'messages.id', 'deliveries.message_id')
    .select(['deliveries.key', 'messages.text', 'messages.reply_to'])
    .where('deliveries.channel_id', '=', key.channelId)
    .where('deliveries.status', '=', 'pending')
    .where('deliveries.created_at', '>', sql<Date>`now() - ${UNDELIVERED_MAX_AGE}::interval`)
    .orderBy('deliveries.created_at')
    .limit(UNDELIVERED_MAX)
    .execute();
  const inputs: DeliverReplyInput[] = [];
  for (const row of rows) {
    const position = parseDeliveryKey(key.channelId, row.key);
    if (!position) continue;
    inputs.push({
      channelId: key.channelId,
      agentId: key.agentId,
      platform: key.platform,
      conversationId: key.conversationId,
      ...position,
      text: row.text,
      kind: position.key === 'error' ? 'error' : 'reply',
      ...(row.reply_to ? { replyTo: row.reply_to } : {}),
    });
  }
  return inputs;
}

/** `<channel id>:<turn>:<step>:<key>` (activities/deliver-reply.ts); the key itself may hold colons. */
function parseDeliveryKey(channelId: string, deliveryKey: string): { turnSeq: number; step: number; key: string } | undefined {
  if (!deliveryKey.startsWith(`${channelId}:`)) return undefined;
  const match = /^(\d+):(\d+):(.+)$/s.exec(deliveryKey.slice(channelId.length + 1));
  if (!match) return undefined;
  return { turnSeq: Number(match[1]), step: Number(match[2]), key: match[3] ?? '' };
}

/** The highest n of a branch or worker that registered its context under this channel. */
export async function highestChildNumber(db: Db, channelId: string): Promise<number> {
  const rows = await db.selectFrom('channels').select('id').where('parent_id', '=', channelId).execute();
  return Math.max(0, ...rows.map((r) => childNumberOf(channelId, r.id) ?? 0));
}

/** n of `<channel id>/branch/<n>` or `<channel id>/worker/<n>`; undefined for anything else (compactors). */
export function childNumberOf(channelId: string, id: string): number | undefined {
  for (const kind of ['branch', 'worker'] as const) {
    const prefix = processWorkflowId(channelId, kind, 0).slice(0, -1);
    if (id.startsWith(prefix) && /^\d+$/.test(id.slice(prefix.length))) return Number(id.slice(prefix.length));
  }
  return undefined;
}
