import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { tokenMatcher } from '../auth.js';
import { adapterHealthy, readAdapterStatuses, type ReportedAdapterStatus } from '../../lib/gateway/status-store.js';

interface Check {
  ok: boolean;
  latencyMs: number;
  error?: string;
}

async function timed(fn: () => Promise<unknown>): Promise<Check> {
  const started = Date.now();
  try {
    await fn();
    return { ok: true, latencyMs: Date.now() - started };
  } catch (err) {
    return { ok: false, latencyMs: Date.now() - started, error: (err as Error).message };
  }
}

/**
 * Liveness and dependency check, for load balancers and compose health checks. 503 only when
 * Temporal or the database is down (nothing works then). Without the bearer token it says only
 * `{ status: "ok" }` or `{ status: "unavailable" }`: error messages, latencies and adapter accounts
 * are for the operator. With the token, the detail: a chat adapter that is failed, reconnecting,
 * stale or never reported makes the status "degraded" but keeps 200, as the API, the webhook and the
 * other adapters still work, and restarting the process would not fix a revoked token.
 */
export function registerHealthRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const authorized = tokenMatcher(ctx.apiToken);
  app.get('/health', async (request, reply) => {
    const [temporal, database] = await Promise.all([
      timed(() => ctx.temporal.connection.withDeadline(Date.now() + 3000, () => ctx.temporal.workflowService.getSystemInfo({}))),
      timed(() => sql`SELECT 1`.execute(ctx.db)),
    ]);
    const ok = temporal.ok && database.ok;
    if (!authorized(request.headers.authorization)) return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable' });
    const adapters: ReportedAdapterStatus[] = database.ok ? await readAdapterStatuses(ctx.db, ctx.config).catch(() => []) : [];
    const adaptersOk = adapters.every(adapterHealthy);
    return reply.code(ok ? 200 : 503).send({ status: ok && adaptersOk ? 'ok' : 'degraded', temporal, database, adapters });
  });
}
