import type { FastifyInstance } from 'fastify';
import { readAdapterStatuses } from '../../lib/gateway/status-store.js';
import type { ApiContext } from '../context.js';

/**
 * `GET /v1/adapters`: every configured chat adapter instance with the status the gateway last
 * reported (adapter_status), so an API process that does not run the gateway still knows. `unknown`
 * means no gateway has reported the instance; `stale` that the gateway stopped refreshing it.
 */
export function registerAdapterRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/adapters', async () => ({ adapters: await readAdapterStatuses(ctx.db, ctx.config) }));
}
