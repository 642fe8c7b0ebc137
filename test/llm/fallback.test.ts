import type { ModelRef } from '../../lib/config/types.js';
import { CooldownRegistry } from '../../lib/llm/cooldowns.js';
import { LlmError, registerSecret, scrubSecrets, toLlmError } from '../../lib/llm/errors.js';
import { ChainFailure, completeWithFallback, type FallbackOptions } from '../../lib/llm/fallback.js';
import type { ProviderRegistry } from '../../lib/llm/registry.js';
import type { CompletionResult, LlmProvider } from '../../lib/llm/types.js';

type Behaviour = LlmError | string;

/** A registry whose providers answer from a per-model script: a string is the reply text, an LlmError is thrown. */
function stubRegistry(script: Record<string, Behaviour[]>, calls: string[], unconfigured: string[] = []): ProviderRegistry {
  const provider = (name: string): LlmProvider => ({
    id: name,
    complete: async (req) => {
      const key = `${name}/${req.model}`;
      calls.push(key);
      const next = script[key]?.shift() ?? 'ok';
      if (next instanceof LlmError) throw next;
      const result: CompletionResult = { text: next, toolCalls: [], stopReason: 'end_turn', usage: { inputTokens: 10, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0 } };
      return result;
    },
  });
  return {
    get(ref: ModelRef | undefined) {
      if (!ref) throw new LlmError('not_configured', 'no language model is configured');
      if (unconfigured.includes(ref.provider)) throw new LlmError('not_configured', `${ref.provider} needs an API key`);
      return provider(ref.provider);
    },
    settings: () => undefined,
  } as unknown as ProviderRegistry;
}

const A: ModelRef = { provider: 'anthropic', model: 'a' };
const B: ModelRef = { provider: 'openai', model: 'b' };
const C: ModelRef = { provider: 'groq', model: 'c' };

function options(script: Record<string, Behaviour[]>, over: Partial<FallbackOptions> = {}): { opts: FallbackOptions; calls: string[]; clock: { t: number } } {
  const calls: string[] = [];
  const clock = { t: 1_000_000 };
  const now = () => clock.t;
  return {
    calls,
    clock,
    opts: {
      chain: [A, B],
      providers: stubRegistry(script, calls),
      cooldowns: new CooldownRegistry(now),
      request: { system: 's', messages: [], tools: [], maxOutputTokens: 100 },
      attemptTimeoutMs: 5_000,
      rateLimitCooldownMs: 60_000,
      now,
      ...over,
    },
  };
}

async function failure(p: Promise<unknown>): Promise<ChainFailure> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ChainFailure);
    return err as ChainFailure;
  }
  throw new Error('expected a ChainFailure');
}

describe('completeWithFallback', () => {
  it('a 429 without retry-after cools the model down for the configured default', async () => {
    const { opts, calls, clock } = options({ 'anthropic/a': [new LlmError('rate_limit', 'slow down', 429)] });
    const first = await completeWithFallback(opts);
    expect(first.model).toEqual(B);
    expect(opts.cooldowns.remainingMs('anthropic/a')).toBe(60_000);
    clock.t += 59_000;
    await completeWithFallback(opts);
    expect(calls).toEqual(['anthropic/a', 'openai/b', 'openai/b']);
    clock.t += 1_000;
    await completeWithFallback(opts);
    expect(calls.at(-1)).toBe('anthropic/a');
  });

  it('every model rate limited: a retryable failure that waits for the earliest recovery', async () => {
    const { opts } = options({
      'anthropic/a': [new LlmError('rate_limit', 'a', 429, 5_000)],
      'openai/b': [new LlmError('rate_limit', 'b', 429, 3_000)],
    });
    const err = await failure(completeWithFallback(opts));
    expect(err.permanent).toBe(false);
    expect(err.retryAfterMs).toBe(3_000);
    expect(err.attempts.map((a) => a.outcome)).toEqual(['rate_limit', 'rate_limit']);
    // Called again within the cooldown: no model is called, same answer.
    const again = await failure(completeWithFallback(opts));
    expect(again.attempts.map((a) => a.outcome)).toEqual(['cooldown', 'cooldown']);
    expect(again.error.kind).toBe('rate_limit');
    expect(again.retryAfterMs).toBe(3_000);
  });

  it('a transient failure without cooldown leaves the retry delay to Temporal', async () => {
    const { opts } = options({ 'anthropic/a': [new LlmError('rate_limit', 'a', 429, 5_000)], 'openai/b': [new LlmError('server', 'b', 500)] });
    const err = await failure(completeWithFallback(opts));
    expect(err.permanent).toBe(false);
    expect(err.retryAfterMs).toBeUndefined();
    expect(err.error.kind).toBe('server');
  });

  it.each(['auth', 'invalid_request'] as const)('%s ends the chain at once, permanently', async (kind) => {
    const { opts, calls } = options({ 'anthropic/a': [new LlmError(kind, 'no', 401)] });
    const err = await failure(completeWithFallback(opts));
    expect(err.permanent).toBe(true);
    expect(err.error.kind).toBe(kind);
    expect(calls).toEqual(['anthropic/a']);
  });

  it('an empty answer moves on, and is returned only when nothing better comes', async () => {
    const moved = options({ 'anthropic/a': [''] });
    expect((await completeWithFallback(moved.opts)).model).toEqual(B);
    const onlyEmpty = options({ 'anthropic/a': [''], 'openai/b': [new LlmError('server', 'b', 500)] });
    const result = await completeWithFallback(onlyEmpty.opts);
    expect(result.model).toEqual(A);
    expect(result.attempts.map((a) => a.outcome)).toEqual(['empty', 'server']);
  });

  it('models of unconfigured providers are skipped; a chain of only those fails permanently', async () => {
    const calls: string[] = [];
    const { opts } = options({}, { chain: [C, B], providers: stubRegistry({}, calls, ['groq']) });
    const result = await completeWithFallback(opts);
    expect(result.model).toEqual(B);
    expect(result.attempts.map((a) => a.outcome)).toEqual(['not_configured', 'ok']);
    const err = await failure(completeWithFallback({ ...opts, chain: [C] }));
    expect(err.permanent).toBe(true);
    expect(err.error.kind).toBe('not_configured');
  });

  it('an empty chain is a not_configured error', async () => {
    const { opts } = options({}, { chain: [] });
    await expect(completeWithFallback(opts)).rejects.toMatchObject({ kind: 'not_configured' });
  });

  it('starts no attempt when the activity deadline is too close', async () => {
    const { opts, calls, clock } = options({});
    const err = await failure(completeWithFallback({ ...opts, deadline: clock.t + 500 }));
    expect(err.permanent).toBe(false);
    expect(err.error.kind).toBe('timeout');
    expect(calls).toEqual([]);
  });

  it('reports every attempt as it happens', async () => {
    const seen: number[] = [];
    const { opts } = options({ 'anthropic/a': [new LlmError('overloaded', 'busy', 529)] }, { onAttempt: (a) => seen.push(a.length) });
    const result = await completeWithFallback(opts);
    expect(seen).toEqual([1, 2]);
    expect(result.attempts[0]).toMatchObject({ model: 'anthropic/a', outcome: 'overloaded', status: 529 });
    expect(result.attempts[1]).toMatchObject({ model: 'openai/b', outcome: 'ok', inputTokens: 10, outputTokens: 2 });
  });
});

describe('CooldownRegistry', () => {
  it('extends but never shortens a cooldown, and forgets expired ones', () => {
    let t = 0;
    const cooldowns = new CooldownRegistry(() => t);
    cooldowns.coolDown('m', 1_000);
    cooldowns.coolDown('m', 500);
    expect(cooldowns.remainingMs('m')).toBe(1_000);
    t = 400;
    expect(cooldowns.snapshot()).toEqual({ m: 600 });
    t = 1_000;
    expect(cooldowns.remainingMs('m')).toBe(0);
    expect(cooldowns.snapshot()).toEqual({});
  });
});

describe('scrubSecrets', () => {
  it('removes registered keys literally and key-shaped strings', () => {
    registerSecret('plain-looking-secret-value');
    registerSecret('short');
    const text = scrubSecrets('k=plain-looking-secret-value sk-ant-api03-abcdefgh Bearer abc.def.ghi.jkl gsk_abcdefghijklmnopqrstu short');
    expect(text).not.toContain('plain-looking-secret-value');
    expect(text).not.toContain('abcdefgh');
    expect(text).not.toContain('abc.def.ghi.jkl');
    expect(text).toContain('short');
  });

  it('every LlmError message is scrubbed, also ones made from SDK errors', () => {
    registerSecret('another-secret-1234');
    expect(new LlmError('server', 'echo another-secret-1234').message).not.toContain('another-secret-1234');
    const sdkError = Object.assign(new Error('401 invalid key another-secret-1234'), { status: 401, error: { error: { type: 'authentication_error', message: 'bad key another-secret-1234' } } });
    expect(toLlmError(sdkError, 'x').message).not.toContain('another-secret-1234');
  });
});
