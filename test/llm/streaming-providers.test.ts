/**
 * Provider streaming through the real SDKs against the fake LLM's SSE: deltas arrive in order, the
 * final result is what a non-streamed call returns, a `reply` call's text is readable while its JSON
 * streams, and a stream that fails mid-way falls back with a `reset` before the fallback's text.
 */
import { CooldownRegistry } from '../../lib/llm/cooldowns.js';
import { completeWithFallback } from '../../lib/llm/fallback.js';
import { AnthropicProvider } from '../../lib/llm/providers/anthropic.js';
import { OpenAiProvider } from '../../lib/llm/providers/openai.js';
import { ProviderRegistry } from '../../lib/llm/registry.js';
import type { CompletionRequest, LlmProvider, StreamDelta } from '../../lib/llm/types.js';
import { DeltaRouter } from '../../lib/streaming/delivery-deltas.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/server.js';

let fake: FakeLlm;
let providers: Record<'anthropic' | 'openai', LlmProvider>;

beforeAll(async () => {
  fake = await startFakeLlm();
  providers = {
    anthropic: new AnthropicProvider({ apiKey: 'sk-ant-test-key-123456', baseUrl: fake.url }),
    openai: new OpenAiProvider({ apiKey: 'sk-test-openai-123456', baseUrl: `${fake.url}/v1` }),
  };
});
afterEach(() => fake.reset());
afterAll(() => fake.close());

const REPLY_TOOL = { name: 'reply', description: 'Send a message.', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] } };

function request(over: Partial<CompletionRequest> = {}): CompletionRequest {
  return { model: 'm', system: 'be brief', messages: [{ role: 'user', parts: [{ type: 'text', text: 'hi' }] }], tools: [REPLY_TOOL], maxOutputTokens: 200, ...over };
}

const ANSWER = 'The quick brown fox jumps over the lazy dog, twice.';

describe.each(['anthropic', 'openai'] as const)('%s streaming', (name) => {
  it('emits the text in order, and the final result equals the non-streamed one', async () => {
    const usage = { input: 40, output: 12, cacheRead: 8, cacheWrite: 0 };
    fake.enqueue({ text: ANSWER, usage }, { text: ANSWER, usage });
    const deltas: StreamDelta[] = [];
    const streamed = await providers[name].complete(request({ onDelta: (d) => deltas.push(d) }));
    const plain = await providers[name].complete(request());

    expect(fake.requests.map((r) => r.neutral?.stream)).toEqual([true, false]);
    const texts = deltas.flatMap((d) => (d.type === 'text' ? [d.text] : []));
    expect(texts.length).toBeGreaterThan(3);
    expect(texts.join('')).toBe(ANSWER);
    expect(streamed.text).toBe(ANSWER);
    expect({ ...streamed, responseId: undefined }).toEqual({ ...plain, responseId: undefined });
  });

  it("streams a reply call's text argument, escapes and all, and returns the whole call", async () => {
    const text = 'Line one with "quotes" and a \\ backslash,\nthen ünïcödé and an emoji 🦊 at the end.';
    fake.enqueue({ toolCalls: [{ name: 'reply', input: { text }, id: name === 'anthropic' ? 'toolu_01abc' : 'call_abc' }] });
    const router = new DeltaRouter();
    const shown: string[] = [];
    const result = await providers[name].complete(
      request({
        onDelta: (d) => {
          const keyed = router.route(d);
          if (keyed) shown.push(`${keyed.key}|${keyed.text}`);
        },
      }),
    );
    const id = result.toolCalls[0]?.id ?? '';
    expect(result.toolCalls).toEqual([{ type: 'tool_call', id, name: 'reply', input: { text } }]);
    expect(result.stopReason).toBe('tool_use');
    // Arguments stream in several fragments, so the text is shown in more than one piece.
    expect(shown.length).toBeGreaterThan(1);
    expect(shown.every((s) => s.startsWith(`tool:${id}|`))).toBe(true);
    expect(shown.map((s) => s.slice(`tool:${id}|`.length)).join('')).toBe(text);
  });

  it('turns a mid-stream error into a transient failure', async () => {
    fake.enqueue({ fault: 'stream_error', partialText: 'doomed words' });
    const deltas: string[] = [];
    await expect(providers[name].complete(request({ onDelta: (d) => d.type === 'text' && deltas.push(d.text) }))).rejects.toMatchObject({ name: 'LlmError' });
    expect(deltas.join('')).toBe('doomed words');
  });
});

describe('fallback while streaming', () => {
  it('a mid-stream error falls back, and the consumer is told to reset before the fallback’s text', async () => {
    const registry = new ProviderRegistry({
      anthropic: { apiKey: 'sk-ant-test-key-123456', baseUrl: fake.url },
      openai: { apiKey: 'sk-test-openai-123456', baseUrl: `${fake.url}/v1` },
    });
    fake.enqueue({ fault: 'stream_error', partialText: 'doomed words' }, { text: 'the fallback answers' });
    const seen: string[] = [];
    const answer = await completeWithFallback({
      chain: [
        { provider: 'anthropic', model: 'primary' },
        { provider: 'openai', model: 'backup' },
      ],
      providers: registry,
      cooldowns: new CooldownRegistry(),
      request: { ...request(), onDelta: (d) => d.type === 'text' && seen.push(d.text) },
      onReset: () => seen.push('<reset>'),
      attemptTimeoutMs: 10_000,
      rateLimitCooldownMs: 60_000,
    });
    expect(answer.model).toEqual({ provider: 'openai', model: 'backup' });
    expect(answer.result.text).toBe('the fallback answers');
    expect(answer.attempts.map((a) => a.outcome)).toEqual([expect.not.stringMatching(/^ok$/), 'ok']);
    const reset = seen.indexOf('<reset>');
    expect(seen.slice(0, reset).join('')).toBe('doomed words');
    expect(seen.slice(reset + 1).join('')).toBe('the fallback answers');
    expect(seen.filter((s) => s === '<reset>')).toHaveLength(1);
  });

  it('does not reset when the failed attempt had shown nothing', async () => {
    const registry = new ProviderRegistry({
      anthropic: { apiKey: 'sk-ant-test-key-123456', baseUrl: fake.url },
      openai: { apiKey: 'sk-test-openai-123456', baseUrl: `${fake.url}/v1` },
    });
    fake.enqueue({ fault: 'server_error' }, { text: 'fine' });
    const resets: string[] = [];
    const answer = await completeWithFallback({
      chain: [
        { provider: 'anthropic', model: 'primary' },
        { provider: 'openai', model: 'backup' },
      ],
      providers: registry,
      cooldowns: new CooldownRegistry(),
      request: { ...request(), onDelta: () => undefined },
      onReset: (reason) => resets.push(reason),
      attemptTimeoutMs: 10_000,
      rateLimitCooldownMs: 60_000,
    });
    expect(answer.result.text).toBe('fine');
    expect(resets).toEqual([]);
  });
});

describe('the total budget of a call ([routing] total_timeout_ms)', () => {
  const registry = () =>
    new ProviderRegistry({
      anthropic: { apiKey: 'sk-ant-test-key-123456', baseUrl: fake.url },
      openai: { apiKey: 'sk-test-openai-123456', baseUrl: `${fake.url}/v1` },
    });
  const chain = [
    { provider: 'anthropic', model: 'primary' },
    { provider: 'openai', model: 'backup' },
  ];
  const base = { chain, request: request(), attemptTimeoutMs: 10_000, rateLimitCooldownMs: 60_000 };

  it('fails for good, with a sentence naming the budget, once it has passed', async () => {
    const failure = completeWithFallback({ ...base, providers: registry(), cooldowns: new CooldownRegistry(), total: { deadline: Date.now() - 1, timeoutMs: 600_000 } });
    await expect(failure).rejects.toMatchObject({ permanent: true, error: { kind: 'timeout', message: expect.stringContaining('no model answered within 600 s') } });
    expect(fake.requests).toHaveLength(0);
  });

  it('does not ask for a retry that could only start after it', async () => {
    fake.enqueue({ fault: 'rate_limit', retryAfterSeconds: 30 }, { fault: 'rate_limit', retryAfterSeconds: 30 });
    const failure = completeWithFallback({ ...base, providers: registry(), cooldowns: new CooldownRegistry(), total: { deadline: Date.now() + 10_000, timeoutMs: 20_000 } });
    await expect(failure).rejects.toMatchObject({ permanent: true, error: { kind: 'timeout', message: expect.stringMatching(/within 20 s of trying \(last error: .*429/) } });
  });

  it('still asks for a retry that fits within it', async () => {
    fake.enqueue({ fault: 'rate_limit', retryAfterSeconds: 2 }, { fault: 'rate_limit', retryAfterSeconds: 3 });
    const failure = completeWithFallback({ ...base, providers: registry(), cooldowns: new CooldownRegistry(), total: { deadline: Date.now() + 60_000, timeoutMs: 600_000 } });
    await expect(failure).rejects.toMatchObject({ permanent: false, retryAfterMs: expect.any(Number) });
  });
});
