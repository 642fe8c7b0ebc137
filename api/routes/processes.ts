import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { WEBHOOK_PLATFORM } from '../../adapters/webhook.js';
import { temporalUiLink } from '../../lib/channel/channel-client.js';
import { findAgent } from '../../lib/config/load.js';
import { EXTERNAL_ID_PATTERN, EXTERNAL_ID_RULE, QUEUE_MODES, channelWorkflowId, type ChannelKey } from '../../workflows/channel-contract.js';
import { processWorkflowId, type ProcessRecord } from '../../workflows/process-contract.js';
import type { ApiContext } from '../context.js';
import { sendError, sendValidationError } from '../http-errors.js';

const paramsSchema = z.object({
  agent: z.string(),
  conversation: z.string().regex(EXTERNAL_ID_PATTERN, `conversation ids ${EXTERNAL_ID_RULE}`),
});
const processParamsSchema = paramsSchema.extend({ kind: z.enum(['branch', 'worker']), n: z.coerce.number().int().min(1) });
/** Channels of other platforms are addressed by their platform key (e.g. `discord`, `slack-work`). */
const querySchema = z.object({ platform: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/).optional() }).strict();
const queueModeBodySchema = z.object({ queue_mode: z.enum(QUEUE_MODES).nullable() }).strict();

/**
 * A conversation's branches and workers (with Temporal UI links), a user's stop for one of them, and
 * the channel's queue mode. Under /v1/agents/:agent/conversations/:conversation.
 */
export function registerProcessRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const base = '/v1/agents/:agent/conversations/:conversation';

  const channelKey = (params: { agent: string; conversation: string }, query: unknown, reply: FastifyReply): ChannelKey | undefined => {
    const q = querySchema.safeParse(query ?? {});
    if (!q.success) return void sendValidationError(reply, 'query', q.error);
    if (!findAgent(ctx.config, params.agent)) return void sendError(reply, 404, 'not_found', `unknown agent "${params.agent}"`, 'agent');
    return { agentId: params.agent, platform: q.data.platform ?? WEBHOOK_PLATFORM, conversationId: params.conversation };
  };

  /** Runs a call against the channel workflow; a conversation that never started is a 404. */
  const withChannel = async <T>(key: ChannelKey, reply: FastifyReply, call: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await call();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return void sendError(reply, 404, 'not_found', `no running conversation ${key.conversationId} on ${key.platform}`);
      throw err;
    }
  };

  const toApi = (p: ProcessRecord) => ({
    id: p.id,
    ref: `${p.kind}/${p.n}`,
    kind: p.kind,
    task: p.task,
    state: p.state,
    startedAt: p.startedAt,
    finishedAt: p.finishedAt ?? null,
    toolCalls: p.toolCalls,
    status: p.status ?? null,
    result: p.result ?? null,
    interactive: p.interactive ?? false,
    temporalUiUrl: temporalUiLink(ctx.temporalUiUrl, ctx.config.temporal.namespace, p.id),
  });

  app.get(`${base}/processes`, async (request, reply) => {
    const params = paramsSchema.safeParse(request.params);
    if (!params.success) return sendValidationError(reply, 'path', params.error);
    const key = channelKey(params.data, request.query, reply);
    if (!key) return reply;
    const processes = await withChannel(key, reply, () => ctx.channels.processes(key));
    if (!processes) return reply;
    return reply.send({ channelId: channelWorkflowId(key), processes: processes.map(toApi) });
  });

  app.post(`${base}/processes/:kind/:n/cancel`, async (request, reply) => {
    const params = processParamsSchema.safeParse(request.params);
    if (!params.success) return sendValidationError(reply, 'path', params.error);
    const key = channelKey(params.data, request.query, reply);
    if (!key) return reply;
    const id = processWorkflowId(channelWorkflowId(key), params.data.kind, params.data.n);
    const cancelled = await withChannel(key, reply, () => ctx.channels.cancelProcess(key, id));
    if (cancelled === undefined) return reply;
    if (!cancelled) return sendError(reply, 409, 'not_running', `${params.data.kind}/${params.data.n} is not running`);
    return reply.send({ id, cancelled: true });
  });

  app.put(`${base}/queue-mode`, async (request, reply) => {
    const params = paramsSchema.safeParse(request.params);
    if (!params.success) return sendValidationError(reply, 'path', params.error);
    const key = channelKey(params.data, request.query, reply);
    if (!key) return reply;
    const body = queueModeBodySchema.safeParse(request.body ?? {});
    if (!body.success) return sendValidationError(reply, 'body', body.error);
    const mode = await withChannel(key, reply, () => ctx.channels.setQueueMode(key, body.data.queue_mode));
    if (!mode) return reply;
    return reply.send({ queueMode: mode });
  });
}
