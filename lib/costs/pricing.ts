import { formatModelRef, type ModelRef, type SpacebotConfig } from '../config/types.js';
import type { Usage } from '../llm/types.js';
import type { ModelPrice, PricingConfig } from './types.js';

/**
 * Built-in list prices, USD per million tokens (input = uncached input). Checked against the
 * providers' public price pages when written; providers change them, so `[pricing."provider/model"]`
 * overrides any entry. Anthropic bills cache writes (5-minute TTL) at 1.25x and reads at 0.1x input;
 * OpenAI-compatible providers bill cached input at a discount and writes not at all.
 *
 * Each entry matches a provider and a model name pattern; the first match wins, so specific names
 * come before families. Dated snapshots (`-20250929`, `-2025-04-14`) and `-latest` match their base.
 */
interface PriceRule {
  provider: string;
  /** Matched against the whole model name (after dropping a date or `-latest` suffix). */
  model: RegExp;
  price: ModelPrice;
}

const anthropic = (input: number, output: number): ModelPrice => ({ input, output, cacheRead: input / 10, cacheWrite: input * 1.25 });
const cachedAt = (input: number, output: number, cacheRead: number): ModelPrice => ({ input, output, cacheRead, cacheWrite: 0 });

export const BUILTIN_PRICES: readonly PriceRule[] = [
  // Anthropic. Every Sonnet so far is $3/$15; Opus from 4.5 on $5/$25, before $15/$75; Haiku from 4.5 on $1/$5.
  { provider: 'anthropic', model: /^claude-opus-(4|4-0|4-1)$|^claude-3-opus$/, price: anthropic(15, 75) },
  { provider: 'anthropic', model: /^claude-opus-/, price: anthropic(5, 25) },
  { provider: 'anthropic', model: /^claude-(sonnet-.+|3-[57]-sonnet|3-sonnet)$/, price: anthropic(3, 15) },
  { provider: 'anthropic', model: /^claude-3-5-haiku$/, price: anthropic(0.8, 4) },
  { provider: 'anthropic', model: /^claude-3-haiku$/, price: { input: 0.25, output: 1.25, cacheRead: 0.03, cacheWrite: 0.3 } },
  { provider: 'anthropic', model: /^claude-haiku-/, price: anthropic(1, 5) },
  // OpenAI.
  { provider: 'openai', model: /^gpt-5\.4-mini$/, price: cachedAt(0.75, 4.5, 0.075) },
  { provider: 'openai', model: /^gpt-5\.4$/, price: cachedAt(2.5, 15, 0.25) },
  { provider: 'openai', model: /^gpt-5\.2$/, price: cachedAt(1.75, 14, 0.175) },
  { provider: 'openai', model: /^gpt-5(\.1)?-mini$/, price: cachedAt(0.25, 2, 0.025) },
  { provider: 'openai', model: /^gpt-5(\.1)?-nano$/, price: cachedAt(0.05, 0.4, 0.005) },
  { provider: 'openai', model: /^gpt-5(\.1)?(-chat)?$/, price: cachedAt(1.25, 10, 0.125) },
  { provider: 'openai', model: /^gpt-4\.1$/, price: cachedAt(2, 8, 0.5) },
  { provider: 'openai', model: /^gpt-4\.1-mini$/, price: cachedAt(0.4, 1.6, 0.1) },
  { provider: 'openai', model: /^gpt-4\.1-nano$/, price: cachedAt(0.1, 0.4, 0.025) },
  { provider: 'openai', model: /^gpt-4o$/, price: cachedAt(2.5, 10, 1.25) },
  { provider: 'openai', model: /^gpt-4o-mini$/, price: cachedAt(0.15, 0.6, 0.075) },
  { provider: 'openai', model: /^o3$/, price: cachedAt(2, 8, 0.5) },
  { provider: 'openai', model: /^o4-mini$/, price: cachedAt(1.1, 4.4, 0.275) },
  // Others (OpenAI-compatible presets).
  { provider: 'deepseek', model: /^deepseek-(chat|reasoner)$/, price: cachedAt(0.28, 0.42, 0.028) },
  { provider: 'gemini', model: /^gemini-2\.5-pro$/, price: cachedAt(1.25, 10, 0.125) },
  { provider: 'gemini', model: /^gemini-2\.5-flash$/, price: cachedAt(0.3, 2.5, 0.03) },
  { provider: 'groq', model: /^llama-3\.3-70b(-versatile)?$/, price: cachedAt(0.59, 0.79, 0.59) },
  { provider: 'mistral', model: /^mistral-large$/, price: cachedAt(2, 6, 2) },
  { provider: 'xai', model: /^grok-4$/, price: cachedAt(3, 15, 0.75) },
  // Local servers cost nothing per token.
  { provider: 'ollama', model: /.*/, price: cachedAt(0, 0, 0) },
  { provider: 'lmstudio', model: /.*/, price: cachedAt(0, 0, 0) },
];

/** Used for unknown models when `[pricing.default]` is not set: Sonnet-class, so spend is not underestimated. */
export const DEFAULT_PRICE: ModelPrice = anthropic(3, 15);

/** Multiples of the input price for cache fields a config entry leaves out (Anthropic's ratios). */
const CACHE_READ_RATIO = 0.1;
const CACHE_WRITE_RATIO = 1.25;

export function builtinPrice(ref: ModelRef): ModelPrice | undefined {
  const name = ref.model.replace(/-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$/, '');
  return BUILTIN_PRICES.find((r) => r.provider === ref.provider && r.model.test(name))?.price;
}

export interface ResolvedPrice {
  price: ModelPrice;
  /** True when the model (or part of its price) fell back to the default price: flag it, fix the config. */
  pricedByDefault: boolean;
  source: 'config' | 'builtin' | 'default';
}

/**
 * The price of one model: the config entry (`[pricing."p/m"]`, or `[models."p/m"]` input/output)
 * over the built-in entry; fields the config leaves out come from the built-in entry, else (cache
 * fields) from the input price by Anthropic's ratios, else from the default price, which flags it.
 */
export function priceFor(pricing: PricingConfig, ref: ModelRef): ResolvedPrice {
  const configured = pricing.models[formatModelRef(ref)];
  const builtin = builtinPrice(ref);
  if (!configured) return builtin ? { price: builtin, pricedByDefault: false, source: 'builtin' } : { price: pricing.default, pricedByDefault: true, source: 'default' };
  const base = builtin ?? pricing.default;
  const input = configured.input ?? base.input;
  const price: ModelPrice = {
    input,
    output: configured.output ?? base.output,
    cacheRead: configured.cacheRead ?? builtin?.cacheRead ?? input * CACHE_READ_RATIO,
    cacheWrite: configured.cacheWrite ?? builtin?.cacheWrite ?? input * CACHE_WRITE_RATIO,
  };
  const pricedByDefault = !builtin && (configured.input === undefined || configured.output === undefined);
  return { price, pricedByDefault, source: 'config' };
}

/** USD for one call's usage, rounded to 1e-8 (the ledger column's scale). */
export function costOf(usage: Usage, price: ModelPrice): number {
  const micro = usage.inputTokens * price.input + usage.outputTokens * price.output + usage.cacheReadTokens * price.cacheRead + usage.cacheWriteTokens * price.cacheWrite;
  return Math.round(micro * 100) / 1e8;
}

/** Convenience for callers holding the whole config. */
export function priceForModel(config: Pick<SpacebotConfig, 'pricing'>, ref: ModelRef): ResolvedPrice {
  return priceFor(config.pricing, ref);
}
