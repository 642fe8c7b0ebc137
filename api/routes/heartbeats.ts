import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { findAgent } from '../../lib/config/load.js';
import { HeartbeatError, HeartbeatService } from '../../lib/heartbeats/schedules.js';
import { applyPatch, heartbeatCreateSchema, heartbeatIdSchema, heartbeatPatchSchema, toDefinition } from '../../lib/heartbeats/validation.js';
import type { ApiContext } from '../context.js';
import { sendError, sendValidationError } from '../http-errors.js';

const agentParams = z.object({ agent: z.string() });
const idParams = z.object({ agent: z.string(), id: heartbeatIdSchema });
const noteBody = z.object({ note: z.string().max(500).optional() }).strict();
const runsQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).optional() }).strict();

const STATUS: Record<HeartbeatError['code'], number> = { not_found: 404, conflict: 409, limit: 400, invalid: 400 };
const CODE: Record<HeartbeatError['code'], string> = { not_found: 'not_found', conflict: 'conflict', limit: 'limit_exceeded', invalid: 'invalid_request' };

/** Heartbeats (scheduled prompts) under /v1/agents/:agent/heartbeats; see docs/heartbeats.md. */
export function registerHeartbeatRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const service = new HeartbeatService(ctx.temporal, ctx.config, ctx.db);
  const base = '/v1/agents/:agent/heartbeats';
  const ui = () => ({ temporalUiUrl: ctx.temporalUiUrl, namespace: ctx.config.temporal.namespace });

  const params = <S extends typeof agentParams | typeof idParams>(schema: S, raw: unknown, reply: FastifyReply): z.infer<S> | undefined => {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) return void sendValidationError(reply, 'path', parsed.error);
    if (!findAgent(ctx.config, parsed.data.agent)) return void sendError(reply, 404, 'not_found', `unknown agent "${parsed.data.agent}"`, 'agent');
    return parsed.data as z.infer<S>;
  };
  /** Runs a service call, turning its refusals into the usual JSON errors. */
  const handle = async (reply: FastifyReply, fn: () => Promise<unknown>, status = 200) => {
    try {
      const body = await fn();
      return body === undefined ? reply.code(204).send() : reply.code(status).send(body);
    } catch (err) {
      if (err instanceof HeartbeatError) return sendError(reply, STATUS[err.code], CODE[err.code], err.message, err.field);
      throw err;
    }
  };

  app.post(base, async (request, reply) => {
    const p = params(agentParams, request.params, reply);
    if (!p) return reply;
    const body = heartbeatCreateSchema.safeParse(request.body ?? {});
    if (!body.success) return sendValidationError(reply, 'body', body.error);
    const def = toDefinition(p.agent, 'api', body.data, ctx.config.heartbeats);
    return handle(reply, () => service.create(def, { paused: body.data.paused }), 201);
  });

  app.get(base, async (request, reply) => {
    const p = params(agentParams, request.params, reply);
    if (!p) return reply;
    return handle(reply, async () => ({ heartbeats: await service.list(p.agent) }));
  });

  app.get(`${base}/:id`, async (request, reply) => {
    const p = params(idParams, request.params, reply);
    if (!p) return reply;
    return handle(reply, () => service.get(p.agent, p.id));
  });

  app.patch(`${base}/:id`, async (request, reply) => {
    const p = params(idParams, request.params, reply);
    if (!p) return reply;
    const body = heartbeatPatchSchema.safeParse(request.body ?? {});
    if (!body.success) return sendValidationError(reply, 'body', body.error);
    if (body.data.cron !== undefined && body.data.intervalSeconds !== undefined) {
      return sendError(reply, 400, 'invalid_request', 'body.cron: give at most one of cron and intervalSeconds', 'cron');
    }
    return handle(reply, async () => {
      const current = await service.definition(p.agent, p.id);
      return service.update(applyPatch(current, body.data), body.data.paused);
    });
  });

  app.delete(`${base}/:id`, async (request, reply) => {
    const p = params(idParams, request.params, reply);
    if (!p) return reply;
    return handle(reply, () => service.delete(p.agent, p.id));
  });

  app.post(`${base}/:id/pause`, async (request, reply) => {
    const p = params(idParams, request.params, reply);
    if (!p) return reply;
    const body = noteBody.safeParse(request.body ?? {});
    if (!body.success) return sendValidationError(reply, 'body', body.error);
    return handle(reply, () => service.pause(p.agent, p.id, body.data.note));
  });

  app.post(`${base}/:id/unpause`, async (request, reply) => {
    const p = params(idParams, request.params, reply);
    if (!p) return reply;
    const body = noteBody.safeParse(request.body ?? {});
    if (!body.success) return sendValidationError(reply, 'body', body.error);
    return handle(reply, () => service.unpause(p.agent, p.id, body.data.note));
  });

  app.post(`${base}/:id/trigger`, async (request, reply) => {
    const p = params(idParams, request.params, reply);
    if (!p) return reply;
    return handle(
      reply,
      async () => {
        await service.trigger(p.agent, p.id);
        return { triggered: true, scheduleId: `heartbeat:${p.agent}:${p.id}` };
      },
      202,
    );
  });

  app.get(`${base}/:id/runs`, async (request, reply) => {
    const p = params(idParams, request.params, reply);
    if (!p) return reply;
    const query = runsQuery.safeParse(request.query ?? {});
    if (!query.success) return sendValidationError(reply, 'query', query.error);
    return handle(reply, async () => ({ runs: await service.runs(p.agent, p.id, query.data.limit ?? 20, ui()) }));
  });
}
