import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Selectable } from 'kysely';
import { z } from 'zod';
import { WEBHOOK_PLATFORM } from '../../adapters/webhook.js';
import { temporalUiLink } from '../../lib/channel/channel-client.js';
import { ConversationBusyError } from '../../lib/channel/conversation-busy.js';
import { findAgent } from '../../lib/config/load.js';
import type { MessagesTable } from '../../lib/db/schema.js';
import { channelWorkflowId, EXTERNAL_ID_PATTERN, EXTERNAL_ID_RULE, MAX_MESSAGE_CHARS, type ReplyRecord } from '../../workflows/channel-contract.js';
import type { ApiContext } from '../context.js';
import { sendError, sendValidationError } from '../http-errors.js';
import { BoundedSlots } from '../bounded-slots.js';
import { sendTooMany } from '../rate-limits.js';

/** Longest a POST may hold the connection open for `wait`. */
export const MAX_WAIT_MS = 120_000;
const DEFAULT_WAIT_MS = 60_000;
/** What a client turned away for too many waiters is told to wait before asking again. */
const WAITERS_RETRY_AFTER_SECONDS = 5;

const paramsSchema = z.object({
  agent: z.string(),
  conversation: z.string().regex(EXTERNAL_ID_PATTERN, `conversation ids ${EXTERNAL_ID_RULE}`),
});

const postBodySchema = z
  .object({
    text: z.string().trim().min(1, 'must not be empty').max(MAX_MESSAGE_CHARS, `must be at most ${MAX_MESSAGE_CHARS} characters`),
    sender: z.object({ id: z.string().min(1).max(200), name: z.string().max(200).optional() }).strict().optional(),
    messageId: z.string().regex(EXTERNAL_ID_PATTERN, `message ids ${EXTERNAL_ID_RULE}`).optional(),
    wait: z.union([z.boolean(), z.number().int().min(0).max(MAX_WAIT_MS)]).optional(),
    /** false for a multi-user chat: bursts of messages are then debounced into one turn. Default true. */
    direct: z.boolean().optional(),
  })
  .strict();

const listQuerySchema = z
  .object({
    after: z.string().regex(/^\d+$/, 'must be a message cursor (digits)').optional(),
    limit: z.coerce.number().int().min(1).max(500).optional(),
  })
  .strict();

const TRANSCRIPT_COLUMNS = ['id', 'direction', 'platform_message_id', 'sender_id', 'sender_name', 'text', 'reply_to', 'turn_seq', 'created_at'] as const;
type TranscriptRow = Pick<Selectable<MessagesTable>, (typeof TRANSCRIPT_COLUMNS)[number]>;

function toApiMessage(row: TranscriptRow) {
  return {
    id: row.id,
    direction: row.direction,
    messageId: row.platform_message_id,
    sender: row.sender_id ? { id: row.sender_id, name: row.sender_name ?? undefined } : undefined,
    text: row.text,
    replyTo: row.reply_to ?? undefined,
    turn: row.turn_seq ?? undefined,
    createdAt: new Date(row.created_at).toISOString(),
  };
}

/** The webhook adapter's inbound side and the transcript, under /v1/agents/:agent/conversations. */
export function registerMessageRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const base = '/v1/agents/:agent/conversations/:conversation/messages';
  // Each POST with `wait` holds one Temporal update open on the channel workflow until its turn ends,
  // and Temporal refuses more than a few in flight per workflow. Capping waiters per conversation here
  // turns a crowd of waiting clients into 429s (retry, or poll the transcript) instead of 500s.
  const waiters = new BoundedSlots(ctx.config.server.limits.maxWaitersPerConversation);

  const resolveParams = (params: unknown, reply: FastifyReply) => {
    const parsed = paramsSchema.safeParse(params);
    if (!parsed.success) return void sendValidationError(reply, 'path', parsed.error);
    if (!findAgent(ctx.config, parsed.data.agent)) return void sendError(reply, 404, 'not_found', `unknown agent "${parsed.data.agent}"`, 'agent');
    return parsed.data;
  };

  app.post(base, async (request, reply) => {
    const params = resolveParams(request.params, reply);
    if (!params) return reply;
    const body = postBodySchema.safeParse(request.body ?? {});
    if (!body.success) return sendValidationError(reply, 'body', body.error);
    const { text, sender, wait, direct } = body.data;
    const messageId = body.data.messageId ?? randomUUID();
    const waitMs = wait === true ? DEFAULT_WAIT_MS : wait === false || wait === undefined ? 0 : wait;
    const key = { agentId: params.agent, platform: WEBHOOK_PLATFORM, conversationId: params.conversation };
    const release = waitMs > 0 ? waiters.take(channelWorkflowId(key)) : () => undefined;
    if (!release) {
      return sendTooMany(
        reply,
        WAITERS_RETRY_AFTER_SECONDS,
        `${waiters.limit} clients already wait on this conversation; the message was not sent: retry it with the same messageId, or send it without wait and poll GET .../messages`,
        'wait',
      );
    }
    let outcome: Awaited<ReturnType<typeof ctx.channels.submit>>;
    try {
      outcome = await ctx.channels.submit({ ...key, message: { messageId, text, sender, receivedAt: new Date().toISOString(), ...(direct === false ? { isDirect: false } : {}) }, waitMs });
    } catch (err) {
      // The conversation's queue is full: nothing was taken; the client retries after Retry-After.
      if (err instanceof ConversationBusyError) return sendTooMany(reply, err.retryAfterSeconds, `${err.message} (the message was not sent: retry it with the same messageId)`, 'conversation');
      throw err;
    } finally {
      release();
    }
    const run = {
      messageId,
      workflowId: outcome.workflowId,
      runId: outcome.runId,
      temporalUiUrl: temporalUiLink(ctx.temporalUiUrl, ctx.config.temporal.namespace, outcome.workflowId, outcome.runId),
      duplicate: outcome.result?.duplicate ?? false,
    };
    if (waitMs === 0 || outcome.timedOut || outcome.result?.status !== 'completed') {
      return reply.code(202).send({ ...run, status: waitMs === 0 ? 'accepted' : 'pending' });
    }
    const replies = outcome.result.replies ?? (await repliesFromTranscript(ctx, outcome.workflowId, messageId));
    return reply.code(200).send({ ...run, status: 'completed', turn: outcome.result.turnSeq, replies });
  });

  app.get(base, async (request, reply) => {
    const params = resolveParams(request.params, reply);
    if (!params) return reply;
    const query = listQuerySchema.safeParse(request.query ?? {});
    if (!query.success) return sendValidationError(reply, 'query', query.error);
    const channelId = channelWorkflowId({ agentId: params.agent, platform: WEBHOOK_PLATFORM, conversationId: params.conversation });
    const limit = query.data.limit ?? 100;
    const rows = await ctx.db
      .selectFrom('messages')
      .select(TRANSCRIPT_COLUMNS)
      .where('channel_id', '=', channelId)
      .where('id', '>', query.data.after ?? '0')
      .orderBy('id')
      .limit(limit)
      .execute();
    const messages = rows.map(toApiMessage);
    return reply.send({ messages, nextCursor: messages.length ? messages[messages.length - 1]?.id : (query.data.after ?? null) });
  });
}

/** Replies of an older turn that the workflow no longer holds in memory. */
async function repliesFromTranscript(ctx: ApiContext, channelId: string, messageId: string): Promise<ReplyRecord[]> {
  const rows = await ctx.db
    .selectFrom('messages')
    .select(['id', 'text'])
    .where('channel_id', '=', channelId)
    .where('direction', '=', 'outbound')
    .where('reply_to', '=', messageId)
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ messageId: r.id, text: r.text, kind: 'reply' }));
}
