import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { sendError, sendValidationError } from '../http-errors.js';

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** `YYYY-MM-DD` (UTC midnight) or an ISO 8601 date-time; `endOfDay` makes a date-only bound cover that day. */
const instant = (endOfDay: boolean) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return undefined;
      const dateOnly = DATE_ONLY.test(value);
      const ms = Date.parse(dateOnly ? `${value}T00:00:00Z` : value);
      if (Number.isNaN(ms) || !(dateOnly || /^\d{4}-\d{2}-\d{2}T/.test(value))) {
        ctx.addIssue({ code: 'custom', message: 'must be a date (YYYY-MM-DD) or an ISO 8601 date-time' });
        return z.NEVER;
      }
      return new Date(dateOnly && endOfDay ? ms + 86_400_000 : ms);
    });

const GROUPS = ['model', 'process', 'day'] as const;

const querySchema = z
  .object({
    agent: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be an agent id').optional(),
    from: instant(false),
    to: instant(true),
    group: z.enum(GROUPS, { message: `must be one of ${GROUPS.join(', ')}` }).optional(),
  })
  .strict();

interface UsageTotals {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
  /** Calls priced by `[pricing.default]` (unknown models): their cost is an estimate. */
  pricedByDefaultCalls: number;
}

/**
 * `GET /v1/usage?agent=&from=&to=&group=model|process|day`: tokens and cost from the ledger
 * (`llm_calls`), grouped. `from` is inclusive, `to` exclusive (a date-only `to` includes that day);
 * days are UTC. Without `agent`, every agent.
 */
export function registerUsageRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/usage', async (request, reply) => {
    const parsed = querySchema.safeParse(request.query ?? {});
    if (!parsed.success) return sendValidationError(reply, 'query', parsed.error);
    const { agent, from, to } = parsed.data;
    const group = parsed.data.group ?? 'model';
    if (from && to && from >= to) return sendError(reply, 400, 'invalid_request', 'query.to: must be after from', 'to');
    const key =
      group === 'model'
        ? sql<string>`provider || '/' || model`
        : group === 'process'
          ? sql<string>`process`
          : sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD')`;
    let query = ctx.db
      .selectFrom('llm_calls')
      .select([
        key.as('key'),
        sql<string>`count(*)`.as('calls'),
        sql<string>`coalesce(sum(input_tokens), 0)`.as('input_tokens'),
        sql<string>`coalesce(sum(output_tokens), 0)`.as('output_tokens'),
        sql<string>`coalesce(sum(cache_read_tokens), 0)`.as('cache_read_tokens'),
        sql<string>`coalesce(sum(cache_write_tokens), 0)`.as('cache_write_tokens'),
        sql<string>`coalesce(sum(cost_usd), 0)`.as('cost_usd'),
        sql<string>`count(*) filter (where priced_by_default)`.as('priced_by_default_calls'),
      ])
      .groupBy(sql`1`)
      .orderBy(sql`1`);
    if (agent) query = query.where('agent_id', '=', agent);
    if (from) query = query.where('created_at', '>=', from);
    if (to) query = query.where('created_at', '<', to);
    const rows = (await query.execute()).map((r) => ({
      key: r.key,
      calls: Number(r.calls),
      inputTokens: Number(r.input_tokens),
      outputTokens: Number(r.output_tokens),
      cacheReadTokens: Number(r.cache_read_tokens),
      cacheWriteTokens: Number(r.cache_write_tokens),
      costUsd: roundUsd(Number(r.cost_usd)),
      pricedByDefaultCalls: Number(r.priced_by_default_calls),
    }));
    const total: UsageTotals = { calls: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0, pricedByDefaultCalls: 0 };
    for (const r of rows) {
      for (const k of Object.keys(total) as (keyof UsageTotals)[]) total[k] += r[k];
    }
    total.costUsd = roundUsd(total.costUsd);
    return reply.send({ agent: agent ?? null, from: from?.toISOString() ?? null, to: to?.toISOString() ?? null, group, rows, total });
  });
}

const roundUsd = (usd: number) => Math.round(usd * 1e8) / 1e8;
