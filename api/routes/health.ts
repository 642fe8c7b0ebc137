import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';

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

/** Unauthenticated liveness and dependency check, for load balancers and compose health checks. */
export function registerHealthRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/health', async (_request, reply) => {
    const [temporal, database] = await Promise.all([
      timed(() => ctx.temporal.connection.withDeadline(Date.now() + 3000, () => ctx.temporal.workflowService.getSystemInfo({}))),
      timed(() => sql`SELECT 1`.execute(ctx.db)),
    ]);
    const ok = temporal.ok && database.ok;
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', temporal, database });
  });
}
