import { z } from 'zod';
import {
  CORTEX_FAILURE_LIMIT,
  DEFAULT_CORTEX_INTERVAL_MINUTES,
  DEFAULT_CORTEX_PAUSE_MINUTES,
  DEFAULT_CORTEX_RETRY_MINUTES,
  type CortexSettings,
} from '../../workflows/cortex-contract.js';

/**
 * `[cortex]` of spacebot.toml: its schema (plugged into lib/config/schema.ts) and its resolution
 * (called from lib/config/load.ts), kept here so the config files change by a line.
 *
 * ```toml
 * [cortex]
 * enabled = true            # false: no cortex workflows (a running one stops at the next start)
 * interval_minutes = 60     # time between maintenance passes
 * ```
 */
export const cortexSchema = z
  .object({
    enabled: z.boolean().optional(),
    interval_minutes: z.number().int().min(1).max(7 * 24 * 60).optional(),
    /** How long the circuit breaker pauses the cortex after repeated failures. */
    pause_minutes: z.number().int().min(1).max(24 * 60).optional(),
  })
  .strict();

export type CortexConfig = CortexSettings;

export function resolveCortex(cortex: z.infer<typeof cortexSchema> | undefined): CortexConfig {
  return {
    enabled: cortex?.enabled ?? true,
    intervalMinutes: cortex?.interval_minutes ?? DEFAULT_CORTEX_INTERVAL_MINUTES,
    pauseMinutes: cortex?.pause_minutes ?? DEFAULT_CORTEX_PAUSE_MINUTES,
    failureLimit: CORTEX_FAILURE_LIMIT,
    retryMinutes: DEFAULT_CORTEX_RETRY_MINUTES,
  };
}
