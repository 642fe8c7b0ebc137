import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { EXTERNAL_ID_PATTERN, EXTERNAL_ID_RULE } from '../../workflows/channel-contract.js';
import { postedPartsOf } from '../../lib/delivery/lease.js';
import type { ApiContext } from '../context.js';
import { sendValidationError } from '../http-errors.js';

const listQuerySchema = z
  .object({
    status: z.enum(['pending', 'delivered', 'failed']).optional(),
    agent: z.string().regex(EXTERNAL_ID_PATTERN, EXTERNAL_ID_RULE).optional(),
    limit: z.coerce.number().int().min(1).max(500).optional(),
  })
  .strict();

/**
 * `GET /v1/deliveries?status=failed&agent=&limit=`: the delivery outbox, newest first. A delivery
 * that spent its retry budget (or was refused by its platform) is `failed` with its last error and
 * when it failed: the conversation went on without it, and this is where an operator finds it.
 * `pending` lists deliveries still being posted, with their lease and the parts already posted.
 */
export function registerDeliveryRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/deliveries', async (request, reply) => {
    const query = listQuerySchema.safeParse(request.query);
    if (!query.success) return sendValidationError(reply, 'query', query.error);
    const { status, agent, limit = 100 } = query.data;
    let select = ctx.db
      .selectFrom('deliveries')
      .innerJoin('channels', 'channels.id', 'deliveries.channel_id')
      .select([
        'deliveries.key',
        'deliveries.channel_id',
        'channels.agent_id',
        'deliveries.platform',
        'channels.conversation_id',
        'deliveries.status',
        'deliveries.attempts',
        'deliveries.last_error',
        'deliveries.platform_message_id',
        'deliveries.posted_parts',
        'deliveries.lease_owner',
        'deliveries.lease_expires_at',
        'deliveries.created_at',
        'deliveries.delivered_at',
        'deliveries.failed_at',
      ])
      .orderBy('deliveries.created_at', 'desc')
      .limit(limit);
    if (status) select = select.where('deliveries.status', '=', status);
    if (agent) select = select.where('channels.agent_id', '=', agent);
    const rows = await select.execute();
    const iso = (d: Date | string | null) => (d === null ? undefined : new Date(d).toISOString());
    return {
      deliveries: rows.map((r) => ({
        key: r.key,
        channelId: r.channel_id,
        agent: r.agent_id,
        platform: r.platform,
        conversation: r.conversation_id,
        status: r.status,
        attempts: r.attempts,
        lastError: r.last_error ?? undefined,
        platformMessageId: r.platform_message_id ?? undefined,
        postedParts: postedPartsOf(r.posted_parts).length,
        leaseOwner: r.lease_owner ?? undefined,
        leaseExpiresAt: iso(r.lease_expires_at),
        createdAt: iso(r.created_at),
        deliveredAt: iso(r.delivered_at),
        failedAt: iso(r.failed_at),
      })),
    };
  });
}
