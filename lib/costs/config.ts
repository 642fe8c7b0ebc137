import { z } from 'zod';
import { formatModelRef, type ModelRef } from '../config/types.js';
import { DEFAULT_PRICE } from './pricing.js';
import type { BudgetLimits, BudgetsConfig, ModelPrice, PricingConfig } from './types.js';

/**
 * `[pricing]` and `[budgets]` of spacebot.toml: their schema (plugged into lib/config/schema.ts) and
 * their resolution (called from lib/config/load.ts), kept here so the config files change by a line.
 */

const perMtok = z.number().min(0);
const priceSchema = z
  .object({ input_per_mtok: perMtok.optional(), output_per_mtok: perMtok.optional(), cache_read_per_mtok: perMtok.optional(), cache_write_per_mtok: perMtok.optional() })
  .strict();

/** `[pricing.default]` and `[pricing."provider/model"]`, USD per million tokens. */
export const pricingSchema = z.record(z.string().regex(/^(default|[a-z][a-z0-9_-]*\/.+)$/, 'expected "default" or "provider/model"'), priceSchema);

const usd = z.number().positive();
const limitsSchema = { daily_usd: usd.optional(), monthly_usd: usd.optional(), warn_at: z.number().gt(0).max(1).optional() };

/** `[budgets]` with per-agent `[budgets.agents.<id>]`. */
export const budgetsSchema = z
  .object({ ...limitsSchema, agents: z.record(z.string(), z.object(limitsSchema).strict()).optional() })
  .strict();

type PriceFields = z.infer<typeof priceSchema>;

const toPrice = (p: PriceFields): Partial<ModelPrice> => {
  const out: Partial<ModelPrice> = {};
  if (p.input_per_mtok !== undefined) out.input = p.input_per_mtok;
  if (p.output_per_mtok !== undefined) out.output = p.output_per_mtok;
  if (p.cache_read_per_mtok !== undefined) out.cacheRead = p.cache_read_per_mtok;
  if (p.cache_write_per_mtok !== undefined) out.cacheWrite = p.cache_write_per_mtok;
  return out;
};

/**
 * One price per model. `[models."p/m"] input_per_mtok / output_per_mtok` (the cost-rank facts of
 * docs/models.md) are the same prices: they count here, and a `[pricing."p/m"]` entry wins field by field.
 */
export function resolvePricing(
  pricing: z.infer<typeof pricingSchema> | undefined,
  models: Record<string, { input_per_mtok?: number; output_per_mtok?: number }> | undefined,
  ref: (value: string, where: string) => ModelRef,
): PricingConfig {
  const out: PricingConfig = { models: {}, default: DEFAULT_PRICE };
  for (const [key, m] of Object.entries(models ?? {})) {
    const price = toPrice(m);
    if (Object.keys(price).length) out.models[formatModelRef(ref(key, `models.${key}`))] = price;
  }
  for (const [key, p] of Object.entries(pricing ?? {})) {
    if (key === 'default') continue;
    const name = formatModelRef(ref(key, `pricing.${key}`));
    out.models[name] = { ...out.models[name], ...toPrice(p) };
  }
  const d = pricing?.default;
  if (d) {
    const input = d.input_per_mtok ?? DEFAULT_PRICE.input;
    out.default = {
      input,
      output: d.output_per_mtok ?? DEFAULT_PRICE.output,
      cacheRead: d.cache_read_per_mtok ?? input * 0.1,
      cacheWrite: d.cache_write_per_mtok ?? input * 1.25,
    };
  }
  return out;
}

export function resolveBudgets(budgets: z.infer<typeof budgetsSchema> | undefined, agentIds: string[], fail: (message: string) => never): BudgetsConfig {
  const limits = (b: { daily_usd?: number; monthly_usd?: number; warn_at?: number }): Partial<BudgetLimits> => {
    const out: Partial<BudgetLimits> = {};
    if (b.daily_usd !== undefined) out.dailyUsd = b.daily_usd;
    if (b.monthly_usd !== undefined) out.monthlyUsd = b.monthly_usd;
    if (b.warn_at !== undefined) out.warnAt = b.warn_at;
    return out;
  };
  const agents: BudgetsConfig['agents'] = {};
  for (const [id, b] of Object.entries(budgets?.agents ?? {})) {
    if (!agentIds.includes(id)) fail(`"budgets.agents.${id}": unknown agent "${id}"; configured agents: ${agentIds.join(', ')}`);
    agents[id] = limits(b);
  }
  return { warnAt: 0.8, ...limits(budgets ?? {}), agents };
}
