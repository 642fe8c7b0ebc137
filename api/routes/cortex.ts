import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { findAgent } from '../../lib/config/load.js';
import { describeCortex, triggerCortexPass } from '../../lib/cortex/status.js';
import { getStoredMemoryContext, refreshMemoryContext } from '../../lib/memory/context.js';
import type { ApiContext } from '../context.js';
import { sendError, sendValidationError } from '../http-errors.js';

const agentParams = z.object({ agent: z.string() });
const contextQuery = z
  .object({
    user: z.string().min(1).max(200).optional(),
    chat: z.string().min(1).max(200).optional(),
    /** Render now (and store when changed) instead of answering with the stored text. */
    refresh: z.enum(['true', 'false']).optional(),
  })
  .strict();

/**
 * The cortex and the memory context (docs/memory.md):
 * - `GET /v1/agents/:agent/cortex`: the cortex's state (waiting, running, paused, stopped), its last
 *   pass with counts, consecutive failures, when the breaker closes again, and the next pass;
 * - `POST /v1/agents/:agent/cortex/run`: a pass now (202; also while paused);
 * - `GET /v1/agents/:agent/memory-context?user=&chat=&refresh=`: the text channel calls include.
 */
export function registerCortexRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const agentOf = (raw: unknown, reply: FastifyReply): string | undefined => {
    const parsed = agentParams.safeParse(raw);
    if (!parsed.success) return void sendValidationError(reply, 'path', parsed.error);
    if (!findAgent(ctx.config, parsed.data.agent)) return void sendError(reply, 404, 'not_found', `unknown agent "${parsed.data.agent}"`, 'agent');
    return parsed.data.agent;
  };

  app.get('/v1/agents/:agent/cortex', async (request, reply) => {
    const agent = agentOf(request.params, reply);
    if (!agent) return reply;
    const view = await describeCortex(ctx.temporal, agent);
    return reply.send({ ...view, enabled: ctx.config.cortex.enabled });
  });

  app.post('/v1/agents/:agent/cortex/run', async (request, reply) => {
    const agent = agentOf(request.params, reply);
    if (!agent) return reply;
    const sent = await triggerCortexPass(ctx.temporal, agent);
    if (!sent) {
      return sendError(
        reply,
        409,
        'cortex_not_running',
        `agent "${agent}" has no running cortex workflow; set [cortex] enabled = true and restart the worker to start it`,
        'agent',
      );
    }
    return reply.code(202).send({ ...sent, status: 'requested' });
  });

  app.get('/v1/agents/:agent/memory-context', async (request, reply) => {
    const agent = agentOf(request.params, reply);
    if (!agent) return reply;
    const query = contextQuery.safeParse(request.query ?? {});
    if (!query.success) return sendValidationError(reply, 'query', query.error);
    const context = { userId: query.data.user, chatId: query.data.chat };
    const stored = query.data.refresh === 'true' ? undefined : await getStoredMemoryContext(ctx.db, agent, context);
    return reply.send(stored ?? (await refreshMemoryContext(ctx.db, agent, { context })));
  });
}
