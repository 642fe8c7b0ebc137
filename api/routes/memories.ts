import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { findAgent } from '../../lib/config/load.js';
import type { Embedder } from '../../lib/memory/embedder.js';
import { EDGE_TYPES, EmbeddingDimensionError, MAX_CONTENT_BYTES, MEMORY_TYPES, MemoryInputError, type MemoryScope } from '../../lib/memory/model.js';
import { RECALL_MODES, recall } from '../../lib/memory/recall.js';
import { deleteMemory, edgesOf, getMemory, listMemories, saveMemory } from '../../lib/memory/store.js';
import type { ApiContext } from '../context.js';
import { sendError, sendValidationError } from '../http-errors.js';

export interface MemoryRouteOptions {
  /**
   * Embeds saved contents and recall queries (the app passes the configured embedder). Null: memories
   * are saved without embeddings and search uses full text + graph only (docs/memory.md).
   */
  embedder?: Embedder | null;
}

const agentParams = z.object({ agent: z.string() });
const idParams = z.object({ agent: z.string(), id: z.string() });

/** `agent`, `user:<id>` or `chat:<id>`. */
const scopeParam = z
  .string()
  .regex(/^(agent|(user|chat):.{1,200})$/s, 'must be agent, user:<id> or chat:<id>')
  .transform((s): MemoryScope => {
    if (s === 'agent') return { kind: 'agent' };
    const i = s.indexOf(':');
    return { kind: s.slice(0, i) as 'user' | 'chat', id: s.slice(i + 1) };
  });

const listQuery = z
  .object({
    type: z.enum(MEMORY_TYPES).optional(),
    scope: scopeParam.optional(),
    limit: z.coerce.number().int().min(1).max(500).optional(),
    cursor: z.string().max(500).optional(),
  })
  .strict();

const typeList = z
  .string()
  .transform((s) => s.split(',').map((t) => t.trim()).filter(Boolean))
  .pipe(z.array(z.enum(MEMORY_TYPES)).min(1, 'name at least one type'));

const searchQuery = z
  .object({
    q: z.string().max(2000).optional(),
    mode: z.enum(RECALL_MODES).optional(),
    type: typeList.optional(),
    limit: z.coerce.number().int().min(1).max(100).optional(),
    user: z.string().min(1).max(200).optional(),
    chat: z.string().min(1).max(200).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if ((v.mode ?? 'hybrid') === 'hybrid' && !v.q?.trim()) ctx.addIssue({ code: 'custom', path: ['q'], message: 'a hybrid search needs q' });
  });

const createBody = z
  .object({
    content: z
      .string()
      .refine((s) => s.trim().length > 0, 'must not be empty')
      .refine((s) => Buffer.byteLength(s, 'utf8') <= MAX_CONTENT_BYTES, `must be at most ${MAX_CONTENT_BYTES} bytes`),
    type: z.enum(MEMORY_TYPES),
    importance: z.number().min(0).max(1).optional(),
    scope: z
      .object({ kind: z.enum(['agent', 'user', 'chat']), id: z.string().min(1).max(200).optional() })
      .strict()
      .superRefine((s, ctx) => {
        if (s.kind !== 'agent' && !s.id) ctx.addIssue({ code: 'custom', path: ['id'], message: `a ${s.kind} scope needs an id` });
        if (s.kind === 'agent' && s.id) ctx.addIssue({ code: 'custom', path: ['id'], message: 'an agent scope has no id' });
      })
      .optional(),
    associations: z
      .array(z.object({ id: z.uuid(), type: z.enum(EDGE_TYPES), weight: z.number().gt(0).max(1).optional() }).strict())
      .max(100)
      .optional(),
    idempotencyKey: z.string().min(1).max(200).optional(),
    source: z.object({ channel: z.string().max(500).optional(), message: z.string().max(500).optional() }).strict().optional(),
  })
  .strict();

/** The memory store under /v1/agents/:agent/memories; see docs/memory.md. */
export function registerMemoryRoutes(app: FastifyInstance, ctx: ApiContext, opts: MemoryRouteOptions = {}): void {
  const embedder = opts.embedder ?? null;
  const base = '/v1/agents/:agent/memories';

  const params = <S extends typeof agentParams | typeof idParams>(schema: S, raw: unknown, reply: FastifyReply): z.infer<S> | undefined => {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) return void sendValidationError(reply, 'path', parsed.error);
    if (!findAgent(ctx.config, parsed.data.agent)) return void sendError(reply, 404, 'not_found', `unknown agent "${parsed.data.agent}"`, 'agent');
    return parsed.data as z.infer<S>;
  };
  const notFound = (reply: FastifyReply, id: string) => sendError(reply, 404, 'not_found', `no memory "${id}"`, 'id');
  const handle = async (reply: FastifyReply, fn: () => Promise<FastifyReply>) => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof MemoryInputError) return sendError(reply, err.field === 'agent' ? 404 : 400, err.field === 'agent' ? 'not_found' : 'invalid_request', err.message, err.field);
      if (err instanceof EmbeddingDimensionError) return sendError(reply, 500, 'embedder_misconfigured', err.message);
      throw err;
    }
  };

  app.get(base, async (request, reply) => {
    const p = params(agentParams, request.params, reply);
    if (!p) return reply;
    const query = listQuery.safeParse(request.query ?? {});
    if (!query.success) return sendValidationError(reply, 'query', query.error);
    return handle(reply, async () => reply.send(await listMemories(ctx.db, p.agent, query.data)));
  });

  app.get(`${base}/search`, async (request, reply) => {
    const p = params(agentParams, request.params, reply);
    if (!p) return reply;
    const query = searchQuery.safeParse(request.query ?? {});
    if (!query.success) return sendValidationError(reply, 'query', query.error);
    const { q, mode, type, limit, user, chat } = query.data;
    return handle(reply, async () =>
      reply.send(await recall(ctx.db, embedder, p.agent, { query: q, mode, types: type, limit, context: { userId: user, chatId: chat } })),
    );
  });

  app.get(`${base}/:id`, async (request, reply) => {
    const p = params(idParams, request.params, reply);
    if (!p) return reply;
    const memory = await getMemory(ctx.db, p.agent, p.id);
    return memory ? reply.send({ memory }) : notFound(reply, p.id);
  });

  app.get(`${base}/:id/edges`, async (request, reply) => {
    const p = params(idParams, request.params, reply);
    if (!p) return reply;
    const edges = await edgesOf(ctx.db, p.agent, p.id);
    return edges ? reply.send({ edges }) : notFound(reply, p.id);
  });

  app.post(base, async (request, reply) => {
    const p = params(agentParams, request.params, reply);
    if (!p) return reply;
    const body = createBody.safeParse(request.body ?? {});
    if (!body.success) return sendValidationError(reply, 'body', body.error);
    const { scope, ...rest } = body.data;
    const memoryScope: MemoryScope | undefined = scope && scope.kind !== 'agent' ? { kind: scope.kind, id: scope.id ?? '' } : undefined;
    return handle(reply, async () => {
      const saved = await saveMemory(ctx.db, embedder, p.agent, { ...rest, scope: memoryScope });
      return reply.code(saved.status === 'duplicate' ? 200 : 201).send(saved);
    });
  });

  app.delete(`${base}/:id`, async (request, reply) => {
    const p = params(idParams, request.params, reply);
    if (!p) return reply;
    return (await deleteMemory(ctx.db, p.agent, p.id)) ? reply.code(204).send() : notFound(reply, p.id);
  });
}
