import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { OutboundAdapters } from '../adapters/outbound.js';
import type { SpacebotConfig } from '../lib/config/types.js';
import type { Database } from '../lib/db/schema.js';
import type { CooldownRegistry } from '../lib/llm/cooldowns.js';
import type { ProviderRegistry } from '../lib/llm/registry.js';
import type { Logger } from '../lib/logger.js';
import type { Embedder } from '../lib/memory/embedder.js';
import type { StreamBus } from '../lib/streaming/bus.js';
import type { LeakGuard } from '../lib/security/leak-guard.js';

/** Everything activities touch outside their arguments, injected so tests can provide their own. */
export interface ActivityDeps {
  config: SpacebotConfig;
  db: Kysely<Database>;
  providers: ProviderRegistry;
  /** Rate-limited models, shared by all activities of the worker; created per deps object when absent. */
  cooldowns?: CooldownRegistry;
  outbound: OutboundAdapters;
  logger: Logger;
  /** For activities that manage schedules (heartbeats' circuit breaker, the `cron` tool); absent in some tests. */
  temporal?: Client;
  /** Embeds memories for the memory tools and ingestion; null or absent: no embedder (full text + graph recall). */
  embedder?: Embedder | null;
  /** Carries streamed answers to the webhook's SSE clients (lib/streaming/bus.ts); absent: webhook calls do not stream. */
  streams?: StreamBus;
  /**
   * Redacts secrets from tool output, replies, drafts and timelines (lib/security/leak-guard.ts);
   * absent: `leakGuardOf(deps)` builds one from the config and the process environment.
   */
  leakGuard?: LeakGuard;
}
