import { formatModelRef, type ModelRef } from '../config/types.js';
import type { CooldownRegistry } from './cooldowns.js';
import { LlmError, fallsBack, toLlmError } from './errors.js';
import type { ProviderRegistry } from './registry.js';
import type { CompletionRequest, CompletionResult, StreamDelta } from './types.js';

/** The result of trying one model of a chain, as shown in heartbeats and activity results. */
export interface AttemptRecord {
  /** `provider/model`. */
  model: string;
  /** `ok`, `empty` (answered with nothing), `cooldown` (skipped, not called), or the error kind. */
  outcome: string;
  latencyMs: number;
  inputTokens?: number;
  outputTokens?: number;
  /** HTTP status of a failed call. */
  status?: number;
  /** The scrubbed error message of a failed call. */
  error?: string;
  /** For `cooldown`: how much longer the model is skipped. */
  cooldownMs?: number;
}

export interface FallbackOptions {
  chain: ModelRef[];
  providers: ProviderRegistry;
  cooldowns: CooldownRegistry;
  /** Everything but the model and the timeout, which are set per attempt. */
  request: Omit<CompletionRequest, 'model' | 'timeoutMs'>;
  /** Per-attempt timeout when the provider sets none. */
  attemptTimeoutMs: number;
  /** Cooldown after a 429 without retry-after. */
  rateLimitCooldownMs: number;
  /** Epoch ms after which no new attempt starts (the activity's own timeout); attempts are cut to fit. */
  deadline?: number;
  /** Called after every attempt, e.g. to heartbeat the records so far. */
  onAttempt?: (attempts: AttemptRecord[]) => void;
  /**
   * Before an attempt that follows one which already streamed something (`request.onDelta` was
   * called): whatever the consumer showed is void, and the next model starts from scratch.
   */
  onReset?: (reason: string) => void;
  /**
   * The whole call's budget across activity retries (`[routing] total_timeout_ms`, counted from the
   * first attempt's schedule time). Past it the chain fails for good with a sentence for the user,
   * and a retry that could only start after it is not asked for.
   */
  total?: { deadline: number; timeoutMs: number };
  now?: () => number;
}

export interface FallbackSuccess {
  result: CompletionResult;
  /** The model that answered. */
  model: ModelRef;
  attempts: AttemptRecord[];
}

/** No model answered. `permanent` failures must not be retried; others may after `retryAfterMs` (if set). */
export class ChainFailure extends Error {
  override name = 'ChainFailure';
  constructor(
    readonly error: LlmError,
    readonly attempts: AttemptRecord[],
    readonly permanent: boolean,
    /** Set when every model is cooling down: when the earliest one recovers. */
    readonly retryAfterMs?: number,
  ) {
    super(error.message);
  }
}

/** Shortest attempt worth starting: less than this left before the deadline ends the chain. */
const MIN_ATTEMPT_MS = 1_000;
/** Provider retry-afters beyond this are capped: the turn itself gives up after 10 minutes. */
const MAX_COOLDOWN_MS = 15 * 60_000;

/**
 * Tries the chain in order. Transient failures (rate limits, overload, 5xx, timeouts, connection
 * errors, malformed or empty answers) move on to the next model; a 429 also puts its model in a
 * cooldown so later calls skip it. Auth, billing and invalid-request errors end the call at once.
 * An empty answer is kept and returned only if no later model gives a real one.
 */
export async function completeWithFallback(opts: FallbackOptions): Promise<FallbackSuccess> {
  const now = opts.now ?? Date.now;
  const attempts: AttemptRecord[] = [];
  if (opts.chain.length === 0) opts.providers.get(undefined); // throws not_configured
  let empty: FallbackSuccess | undefined;
  let lastError: LlmError | undefined;
  let notConfigured: LlmError | undefined;
  /** A model failed without a cooldown: it may work again at once, so Temporal's backoff decides. */
  let transient = false;
  const record = (a: AttemptRecord) => {
    attempts.push(a);
    opts.onAttempt?.(attempts);
  };
  const consumer = opts.request.onDelta;
  /** Whether the consumer has seen anything since the last reset. */
  let streamed = false;
  const onDelta = consumer
    ? (delta: StreamDelta) => {
        streamed = true;
        consumer(delta);
      }
    : undefined;
  const deadline = Math.min(opts.deadline ?? Infinity, opts.total?.deadline ?? Infinity);
  const expired = () => opts.total !== undefined && now() >= opts.total.deadline;

  for (const ref of opts.chain) {
    const key = formatModelRef(ref);
    const cooling = opts.cooldowns.remainingMs(key);
    if (cooling > 0) {
      record({ model: key, outcome: 'cooldown', latencyMs: 0, cooldownMs: cooling });
      continue;
    }
    let provider;
    try {
      provider = opts.providers.get(ref);
    } catch (err) {
      const e = toLlmError(err, ref.provider);
      notConfigured ??= e;
      record({ model: key, outcome: e.kind, latencyMs: 0, error: e.message });
      continue;
    }
    const configured = opts.providers.settings(ref.provider)?.timeoutMs ?? opts.attemptTimeoutMs;
    if (expired()) break;
    const left = deadline - now();
    if (left < MIN_ATTEMPT_MS) {
      lastError ??= new LlmError('timeout', `no time left in this attempt to call ${key}`);
      transient = true;
      break;
    }
    if (streamed) {
      streamed = false;
      opts.onReset?.(`${attempts.at(-1)?.model ?? 'the previous model'} failed after it had started to answer; ${key} answers instead`);
    }
    const started = now();
    try {
      const result = await provider.complete({ ...opts.request, onDelta, model: ref.model, timeoutMs: Math.min(configured, left) });
      const latencyMs = now() - started;
      const tokens = { inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens };
      if (!result.text.trim() && result.toolCalls.length === 0) {
        record({ model: key, outcome: 'empty', latencyMs, ...tokens });
        empty ??= { result, model: ref, attempts };
        continue;
      }
      record({ model: key, outcome: 'ok', latencyMs, ...tokens });
      return { result, model: ref, attempts };
    } catch (err) {
      // A cancelled activity is not a model failure: let the cancellation through untouched.
      if (opts.request.signal?.aborted) throw err;
      const e = toLlmError(err, ref.provider);
      record({ model: key, outcome: e.kind, latencyMs: now() - started, status: e.status, error: e.message });
      if (!fallsBack(e)) throw new ChainFailure(e, attempts, true);
      lastError = e;
      if (e.kind === 'rate_limit') opts.cooldowns.coolDown(key, Math.min(e.retryAfterMs ?? opts.rateLimitCooldownMs, MAX_COOLDOWN_MS));
      else transient = true;
    }
  }

  if (empty) return empty;
  if (expired() && opts.total) {
    const last = lastError ? ` (last error: ${lastError.message})` : '';
    const error = new LlmError('timeout', `no model answered within ${Math.round(opts.total.timeoutMs / 1000)} s of trying${last}`);
    throw new ChainFailure(error, attempts, true);
  }
  const recoveries = opts.chain.map((ref) => opts.cooldowns.remainingMs(formatModelRef(ref))).filter((ms) => ms > 0);
  if (!lastError && recoveries.length === 0 && notConfigured) throw new ChainFailure(notConfigured, attempts, true);
  const earliest = recoveries.length ? Math.min(...recoveries) : undefined;
  const error =
    lastError ??
    new LlmError('rate_limit', `every model (${opts.chain.map(formatModelRef).join(', ')}) is cooling down after rate limits`, 429, earliest);
  // A retry that could only start after the total budget would just fail then: tell the user now.
  const retryAt = !transient && earliest !== undefined ? now() + earliest : undefined;
  if (opts.total && retryAt !== undefined && retryAt >= opts.total.deadline) {
    const tooLate = new LlmError('timeout', `no model answered within ${Math.round(opts.total.timeoutMs / 1000)} s of trying (last error: ${error.message})`);
    throw new ChainFailure(tooLate, attempts, true);
  }
  throw new ChainFailure(error, attempts, false, transient ? undefined : earliest);
}
