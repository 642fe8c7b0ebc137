import type { Kysely } from 'kysely';
import type { ModelRef, ProcessType, SpacebotConfig } from '../config/types.js';
import type { Database } from '../db/schema.js';
import type { Usage } from '../llm/types.js';
import { costOf, priceFor } from './pricing.js';

export interface LedgerEntry {
  /** Idempotency key: one row per billed call, a repeated write of the same call adds nothing. */
  callKey: string;
  agentId: string;
  channelId: string | null;
  process: ProcessType;
  /** The model that answered. */
  model: ModelRef;
  usage: Usage;
  latencyMs: number;
  stopReason: string | null;
}

export interface LedgerCost {
  costUsd: number;
  pricedByDefault: boolean;
}

/**
 * Writes one `llm_calls` row with its cost. Every process that calls a model records its calls here,
 * so budgets (`checkBudget`) and `GET /v1/usage` see all of an agent's spending.
 */
export async function recordLlmCall(db: Kysely<Database>, config: Pick<SpacebotConfig, 'pricing'>, e: LedgerEntry): Promise<LedgerCost> {
  const { price, pricedByDefault } = priceFor(config.pricing, e.model);
  const costUsd = costOf(e.usage, price);
  await db
    .insertInto('llm_calls')
    .values({
      call_key: e.callKey,
      agent_id: e.agentId,
      channel_id: e.channelId,
      process: e.process,
      provider: e.model.provider,
      model: e.model.model,
      input_tokens: e.usage.inputTokens,
      output_tokens: e.usage.outputTokens,
      cache_read_tokens: e.usage.cacheReadTokens,
      cache_write_tokens: e.usage.cacheWriteTokens,
      latency_ms: e.latencyMs,
      stop_reason: e.stopReason,
      cost_usd: costUsd,
      priced_by_default: pricedByDefault,
    })
    .onConflict((oc) => oc.column('call_key').doNothing())
    .execute();
  return { costUsd, pricedByDefault };
}
