import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { ApiContext } from './context.js';
import { bearerAuth } from './auth.js';
import { sendError } from './http-errors.js';
import { registerAdapterRoutes } from './routes/adapters.js';
import { registerCortexRoutes } from './routes/cortex.js';
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
 * Builds the HTTP API. `/health` is open; everything under `/v1` needs the bearer token. Errors are
 * JSON with a code and a sentence; body size is capped by the config (413 past it).
 */
export function buildApi(ctx: ApiContext & StreamApiContext): FastifyInstance {
  const app = Fastify({ loggerInstance: ctx.logger.child({ component: 'api' }) as FastifyBaseLogger, bodyLimit: ctx.config.server.bodyLimitBytes });

  app.setErrorHandler((error: FastifyError, request, reply) => {
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
  // Its own auth: the Temporal UI's CORS preflights carry no token (api/routes/codec.ts).
  registerCodecRoutes(app, ctx);
  app.register(async (v1) => {
    v1.addHook('onRequest', bearerAuth(ctx.apiToken));
    v1.get('/v1/agents', async () => ({ agents: ctx.config.agents.map((a) => ({ id: a.id, name: a.name, model: a.model ? `${a.model.provider}/${a.model.model}` : null })) }));
    registerMessageRoutes(v1, ctx);
    registerAdapterRoutes(v1, ctx);
    registerProcessRoutes(v1, ctx);
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
