import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { ApiContext } from './context.js';
import { bearerAuth } from './auth.js';
import { sendError } from './http-errors.js';
import { limitPerAddress, limitPerToken, registerRateLimitPlugin, sendTooMany } from './rate-limits.js';
import { findBadText } from '../lib/text/hygiene.js';
import { isResourceExhausted, RESOURCE_EXHAUSTED_RETRY_AFTER_SECONDS } from '../lib/temporal/resource-exhausted.js';
import { registerAdapterRoutes } from './routes/adapters.js';
import { registerApprovalRoutes } from './routes/approvals.js';
import { registerCortexRoutes } from './routes/cortex.js';
import { registerDeliveryRoutes } from './routes/deliveries.js';
import { registerCodecRoutes } from './routes/codec.js';
import { registerSecretRoutes } from './routes/secrets.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerHeartbeatRoutes } from './routes/heartbeats.js';
import { registerMemoryRoutes } from './routes/memories.js';
import { registerIngestRoutes } from './routes/ingest.js';
import { registerMessageRoutes } from './routes/messages.js';
import { registerProcessRoutes } from './routes/processes.js';
import { registerRunRoutes } from './routes/runs.js';
import { registerStreamRoutes, type StreamApiContext } from './routes/stream.js';
import { registerUsageRoutes } from './routes/usage.js';

/**
 * Longest path parameter the router takes. The longest ids we name in paths are workflow ids (up to
 * 1000 characters, see api/routes/runs.ts); conversation ids (200) and the rest are checked per
 * route with a 400 naming the parameter. Past this: a JSON 414.
 */
export const MAX_PARAM_LENGTH = 1000;

/**
 * Builds the HTTP API. `/health` is open; everything under `/v1` needs the bearer token. Errors are
 * JSON with a code and a sentence; body size is capped by the config (413 past it); request rates per
 * client address and per token are capped (429 with Retry-After, api/rate-limits.ts).
 */
export function buildApi(ctx: ApiContext & StreamApiContext): FastifyInstance {
  const app = Fastify({
    loggerInstance: ctx.logger.child({ component: 'api' }) as FastifyBaseLogger,
    bodyLimit: ctx.config.server.bodyLimitBytes,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Errors the router raises before any route runs: in our JSON shape instead of fastify's.
    frameworkErrors: (error, _request, reply) => {
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
        return sendError(reply, 414, 'uri_too_long', `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`, 'path');
      }
      return sendError(reply, 400, 'invalid_request', `path: ${error.message}`, 'path');
    },
  });
  const limits = ctx.config.server.limits;

  // Text hygiene at the door (lib/text/hygiene.ts): NUL and unpaired surrogates cannot be stored by
  // Postgres, so any field, query value or path parameter holding one is refused here, named.
  app.addHook('preValidation', async (request, reply) => {
    for (const [where, value] of [['path', request.params], ['query', request.query], ['body', request.body]] as const) {
      const found = findBadText(value);
      if (found) return sendError(reply, 400, 'invalid_request', `${where}${found.path ? `.${found.path}` : ''}: ${found.problem}`, found.path || where);
    }
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.statusCode === 429) return sendTooMany(reply, Number(reply.getHeader('retry-after')) || 1, error.message || 'too many requests');
    // Temporal refused work because a limit was reached (e.g. updates in flight on one workflow): retry later.
    if (isResourceExhausted(error)) {
      request.log.warn({ url: request.url, err: error.message }, 'Temporal limit reached; answered 429');
      return sendTooMany(reply, RESOURCE_EXHAUSTED_RETRY_AFTER_SECONDS, 'the server is busy with this conversation; retry shortly');
    }
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error.statusCode === 413) {
      return sendError(reply, 413, 'payload_too_large', `request body is larger than ${ctx.config.server.bodyLimitBytes} bytes`);
    }
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendError(reply, 415, 'unsupported_media_type', 'send the body as application/json');
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return sendError(reply, error.statusCode, 'invalid_request', error.message);
    }
    request.log.error({ err: error, url: request.url }, 'request failed');
    return sendError(reply, 500, 'internal', 'internal error; see the server log');
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, 404, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`));

  registerHealthRoutes(app, ctx);
  registerRateLimitPlugin(app, ctx);
  // Its own auth (the Temporal UI's CORS preflights carry no token, api/routes/codec.ts), and after
  // the rate-limit plugin, so the per-address and per-token limits apply to it as to /v1.
  registerCodecRoutes(app, ctx);
  app.register(async (v1) => {
    const perAddress = limitPerAddress(v1, limits);
    const perToken = limitPerToken(v1, limits);
    if (perAddress) v1.addHook('onRequest', perAddress);
    v1.addHook('onRequest', bearerAuth(ctx.apiToken));
    if (perToken) v1.addHook('onRequest', perToken);
    v1.get('/v1/agents', async () => ({ agents: ctx.config.agents.map((a) => ({ id: a.id, name: a.name, model: a.model ? `${a.model.provider}/${a.model.model}` : null })) }));
    registerMessageRoutes(v1, ctx);
    registerAdapterRoutes(v1, ctx);
    registerDeliveryRoutes(v1, ctx);
    registerProcessRoutes(v1, ctx);
    registerApprovalRoutes(v1, ctx);
    registerStreamRoutes(v1, ctx);
    registerRunRoutes(v1, ctx);
    registerHeartbeatRoutes(v1, ctx);
    registerUsageRoutes(v1, ctx);
    registerMemoryRoutes(v1, ctx, { embedder: ctx.embedder ?? null });
    registerIngestRoutes(v1, ctx);
    registerCortexRoutes(v1, ctx);
    registerSecretRoutes(v1, ctx);
  });
  return app;
}
