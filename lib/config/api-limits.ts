import { z } from 'zod';

/**
 * Caps that keep one caller from wedging the API or the machine: request rates, open SSE streams,
 * clients waiting on one conversation, and replays (each a child process of 120–270 MB) at once.
 * Keys of `[server]` in spacebot.toml; 0 turns a rate limit off.
 */
export const apiLimitsSchemaFields = {
  /** Requests per minute per API token (every /v1 route). */
  rate_limit_per_token: z.number().int().min(0).max(1_000_000).optional(),
  /** Requests per minute per client address, with or without a token (so token guessing is capped too). */
  rate_limit_per_address: z.number().int().min(0).max(1_000_000).optional(),
  max_sse_streams: z.number().int().min(1).max(100_000).optional(),
  max_waiters_per_conversation: z.number().int().min(1).max(1000).optional(),
  max_concurrent_replays: z.number().int().min(1).max(64).optional(),
};

export interface ApiLimits {
  ratePerTokenPerMinute: number;
  ratePerAddressPerMinute: number;
  maxSseStreams: number;
  /**
   * POSTs with `wait` held open on one conversation. Each holds a Temporal update, and Temporal refuses
   * more than a few in flight per workflow (RESOURCE_EXHAUSTED): past this the API answers 429.
   */
  maxWaitersPerConversation: number;
  maxConcurrentReplays: number;
}

export const DEFAULT_API_LIMITS: ApiLimits = {
  ratePerTokenPerMinute: 600,
  ratePerAddressPerMinute: 1200,
  maxSseStreams: 100,
  maxWaitersPerConversation: 5,
  maxConcurrentReplays: 2,
};

type ApiLimitsFile = { [K in keyof typeof apiLimitsSchemaFields]?: z.infer<(typeof apiLimitsSchemaFields)[K]> };

export function resolveApiLimits(server: ApiLimitsFile | undefined): ApiLimits {
  const d = DEFAULT_API_LIMITS;
  return {
    ratePerTokenPerMinute: server?.rate_limit_per_token ?? d.ratePerTokenPerMinute,
    ratePerAddressPerMinute: server?.rate_limit_per_address ?? d.ratePerAddressPerMinute,
    maxSseStreams: server?.max_sse_streams ?? d.maxSseStreams,
    maxWaitersPerConversation: server?.max_waiters_per_conversation ?? d.maxWaitersPerConversation,
    maxConcurrentReplays: server?.max_concurrent_replays ?? d.maxConcurrentReplays,
  };
}
