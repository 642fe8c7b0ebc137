/**
 * Drives the fake LLM server through the real Anthropic and OpenAI SDKs: if the SDKs
 * accept what it sends, code under test will too.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { FakeLlm } from './server.js';
import { startFakeLlm } from './server.js';

const CLAUDE = 'claude-haiku-5-5';
const GPT = 'gpt-4.1-mini';

const weatherToolAnthropic = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
};
const weatherToolOpenAI = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

/** Runs `call` and hands back what it threw, so assertions can narrow it. */
async function errorOf(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

let fake: FakeLlm;
let anthropic: Anthropic;
let openai: OpenAI;

beforeAll(async () => {
  fake = await startFakeLlm();
  anthropic = new Anthropic({ apiKey: 'test', baseURL: fake.url, maxRetries: 0 });
  openai = new OpenAI({ apiKey: 'test', baseURL: `${fake.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await fake.close();
});

beforeEach(() => {
  fake.reset();
});

describe('default and scripted text replies', () => {
  it('replies ok by default', async () => {
    const message = await anthropic.messages.create({
      model: CLAUDE,
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(message.content).toEqual([{ type: 'text', text: 'ok', citations: null }]);
    expect(message.id).toMatch(/^msg_/);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.model).toBe(CLAUDE);
  });

  it('scripts by conversation content for both providers', async () => {
    fake.script((req) => ({ text: `echo: ${req.lastUserText}` }));
    const message = await anthropic.messages.create({
      model: CLAUDE,
      max_tokens: 100,
      system: 'be brief',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hello claude' }] }],
    });
    const completion = await openai.chat.completions.create({
      model: GPT,
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello gpt' },
      ],
    });
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'echo: hello claude' });
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]?.message).toMatchObject({ role: 'assistant', content: 'echo: hello gpt' });
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(fake.requests.map((request) => request.neutral?.system)).toEqual(['be brief', 'be brief']);
  });

  it('consumes queued steps before the handler, in order', async () => {
    fake.enqueue({ text: 'first' }, { text: 'second' });
    const texts: (string | null | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const completion = await openai.chat.completions.create({ model: GPT, messages: [{ role: 'user', content: 'x' }] });
      texts.push(completion.choices[0]?.message.content);
    }
    expect(texts).toEqual(['first', 'second', 'ok']);
  });
});

describe('tool calls', () => {
  it('returns an Anthropic tool_use block with parsed input', async () => {
    fake.enqueue({ toolCalls: [{ name: 'get_weather', input: { city: 'Paris', days: 3 } }] });
    const message = await anthropic.messages.create({
      model: CLAUDE,
      max_tokens: 100,
      tools: [weatherToolAnthropic],
      messages: [{ role: 'user', content: 'weather?' }],
    });
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toHaveLength(1);
    const block = message.content[0];
    expect(block?.type).toBe('tool_use');
    if (block?.type !== 'tool_use') return;
    expect(block.id).toMatch(/^toolu_/);
    expect(block.name).toBe('get_weather');
    expect(block.input).toEqual({ city: 'Paris', days: 3 });
  });

  it('returns OpenAI tool_calls with JSON arguments', async () => {
    fake.enqueue({ text: 'checking', toolCalls: [{ name: 'get_weather', input: { city: 'Oslo' }, id: 'call_fixed' }] });
    const completion = await openai.chat.completions.create({
      model: GPT,
      tools: [weatherToolOpenAI],
      messages: [{ role: 'user', content: 'weather?' }],
    });
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBe('checking');
    const call = choice?.message.tool_calls?.[0];
    expect(call).toMatchObject({ id: 'call_fixed', type: 'function', function: { name: 'get_weather' } });
    if (call?.type !== 'function') return;
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Oslo' });
  });

  it('gives scripts the same neutral view of a tool round trip from both SDKs', async () => {
    await anthropic.messages.create({
      model: CLAUDE,
      max_tokens: 100,
      tools: [weatherToolAnthropic],
      messages: [
        { role: 'user', content: 'weather in Paris?' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
      ],
    });
    await openai.chat.completions.create({
      model: GPT,
      tools: [weatherToolOpenAI],
      messages: [
        { role: 'user', content: 'weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
      ],
    });
    const [fromClaude, fromGpt] = fake.requests.map((request) => request.neutral);
    const expected = {
      tools: ['get_weather'],
      lastUserText: 'weather in Paris?',
      messages: [
        { role: 'user', text: 'weather in Paris?' },
        { role: 'assistant', text: '', toolCalls: [{ id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'tool', text: 'sunny', toolResults: [{ toolCallId: 'toolu_1', text: 'sunny' }] },
      ],
    };
    expect(fromClaude).toMatchObject({ provider: 'anthropic', ...expected });
    expect(fromGpt).toMatchObject({ provider: 'openai', ...expected });
  });
});

describe('streaming', () => {
  it('reassembles an Anthropic stream of text and tool calls', async () => {
    fake.enqueue({
      text: 'Let me check the weather for you.',
      toolCalls: [{ name: 'get_weather', input: { city: 'Paris', units: 'metric', note: 'été ☀️' } }],
    });
    const stream = anthropic.messages.stream({
      model: CLAUDE,
      max_tokens: 100,
      tools: [weatherToolAnthropic],
      messages: [{ role: 'user', content: 'weather?' }],
    });
    const deltas: string[] = [];
    stream.on('text', (delta) => deltas.push(delta));
    const message = await stream.finalMessage();
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe('Let me check the weather for you.');
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'Let me check the weather for you.' });
    expect(message.content[1]).toMatchObject({
      type: 'tool_use',
      name: 'get_weather',
      input: { city: 'Paris', units: 'metric', note: 'été ☀️' },
    });
    expect(fake.requests[0]?.neutral?.stream).toBe(true);
  });

  it('reassembles an OpenAI stream of text and tool calls, with a usage chunk', async () => {
    fake.enqueue({
      text: 'Checking two cities.',
      toolCalls: [
        { name: 'get_weather', input: { city: 'Oslo' } },
        { name: 'get_weather', input: { city: 'Rome' } },
      ],
      usage: { input: 40, output: 12 },
    });
    const stream = await openai.chat.completions.create({
      model: GPT,
      tools: [weatherToolOpenAI],
      messages: [{ role: 'user', content: 'weather?' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    const calls: { id: string; name: string; args: string }[] = [];
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (chunk.usage) usage = chunk.usage;
      if (!choice) continue;
      text += choice.delta.content ?? '';
      finish = choice.finish_reason ?? finish;
      for (const delta of choice.delta.tool_calls ?? []) {
        const call = (calls[delta.index] ??= { id: '', name: '', args: '' });
        call.id += delta.id ?? '';
        call.name += delta.function?.name ?? '';
        call.args += delta.function?.arguments ?? '';
      }
    }
    expect(text).toBe('Checking two cities.');
    expect(finish).toBe('tool_calls');
    expect(calls.map((call) => [call.name, JSON.parse(call.args)])).toEqual([
      ['get_weather', { city: 'Oslo' }],
      ['get_weather', { city: 'Rome' }],
    ]);
    expect(calls.every((call) => call.id.startsWith('call_'))).toBe(true);
    expect(usage).toMatchObject({ prompt_tokens: 40, completion_tokens: 12, total_tokens: 52 });
  });

  it("satisfies the OpenAI SDK's own stream accumulator", async () => {
    fake.enqueue({ text: 'a b c', toolCalls: [{ name: 'get_weather', input: { city: 'Lima' } }] });
    const runner = openai.chat.completions.stream({
      model: GPT,
      tools: [weatherToolOpenAI],
      messages: [{ role: 'user', content: 'weather?' }],
    });
    const completion = await runner.finalChatCompletion();
    expect(completion.choices[0]?.message.content).toBe('a b c');
    expect(completion.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Lima"}' },
    });
  });
});

describe('usage', () => {
  it('round-trips scripted usage in each provider accounting', async () => {
    const usage = { input: 100, output: 20, cacheRead: 300, cacheWrite: 50 };
    fake.enqueue({ text: 'a', usage }, { text: 'b', usage }, { text: 'c', usage });
    const params = { model: CLAUDE, max_tokens: 100, messages: [{ role: 'user' as const, content: 'x' }] };
    const message = await anthropic.messages.create(params);
    const streamed = await anthropic.messages.stream(params).finalMessage();
    const completion = await openai.chat.completions.create({ model: GPT, messages: [{ role: 'user', content: 'x' }] });
    const anthropicUsage = {
      input_tokens: 100,
      output_tokens: 20,
      cache_read_input_tokens: 300,
      cache_creation_input_tokens: 50,
    };
    expect(message.usage).toMatchObject(anthropicUsage);
    expect(streamed.usage).toMatchObject(anthropicUsage);
    // OpenAI's prompt_tokens includes cached input; cached_tokens is the cached part.
    expect(completion.usage).toMatchObject({
      prompt_tokens: 450,
      completion_tokens: 20,
      total_tokens: 470,
      prompt_tokens_details: { cached_tokens: 300 },
    });
  });

  it('estimates usage from the text when the script gives none', async () => {
    fake.enqueue({ text: 'x'.repeat(40) });
    const message = await anthropic.messages.create({
      model: CLAUDE,
      max_tokens: 100,
      messages: [{ role: 'user', content: 'y'.repeat(400) }],
    });
    expect(message.usage.input_tokens).toBe(100);
    expect(message.usage.output_tokens).toBe(10);
  });
});

describe('recording', () => {
  it('records provider, path, headers, body and time', async () => {
    const before = Date.now();
    await anthropic.messages.create({ model: CLAUDE, max_tokens: 5, messages: [{ role: 'user', content: 'a' }] });
    await openai.chat.completions.create({ model: GPT, messages: [{ role: 'user', content: 'b' }] });
    const [first, second] = fake.requests;
    expect(first).toMatchObject({ provider: 'anthropic', method: 'POST', path: '/v1/messages' });
    // This Anthropic SDK sends the API key as a bearer token, not as x-api-key.
    expect(first?.headers['authorization']).toBe('Bearer test');
    expect(first?.headers['anthropic-version']).toBeDefined();
    expect(first?.body).toMatchObject({ model: CLAUDE, max_tokens: 5 });
    expect(second).toMatchObject({ provider: 'openai', path: '/v1/chat/completions' });
    expect(second?.headers['authorization']).toBe('Bearer test');
    expect(second?.time).toBeGreaterThanOrEqual(before);
  });
});

describe('errors', () => {
  it('surfaces 429 as RateLimitError with a readable retry-after', async () => {
    fake.enqueue({ fault: 'rate_limit', retryAfterSeconds: 7 }, { fault: 'rate_limit', retryAfterSeconds: 7 });
    const fromClaude = await errorOf(() =>
      anthropic.messages.create({ model: CLAUDE, max_tokens: 5, messages: [{ role: 'user', content: 'a' }] }),
    );
    const fromGpt = await errorOf(() =>
      openai.chat.completions.create({ model: GPT, messages: [{ role: 'user', content: 'b' }] }),
    );
    expect(fromClaude).toBeInstanceOf(Anthropic.RateLimitError);
    expect(fromGpt).toBeInstanceOf(OpenAI.RateLimitError);
    if (!(fromClaude instanceof Anthropic.RateLimitError) || !(fromGpt instanceof OpenAI.RateLimitError)) return;
    expect(fromClaude.headers.get('retry-after')).toBe('7');
    expect(fromClaude.type).toBe('rate_limit_error');
    expect(fromClaude.requestID).toMatch(/^req_/);
    expect(fromGpt.headers.get('retry-after')).toBe('7');
    expect(fromGpt.code).toBe('rate_limit_exceeded');
  });

  it('maps overloaded to 529 for Anthropic and 503 for OpenAI', async () => {
    fake.enqueue({ fault: 'overloaded' }, { fault: 'overloaded' });
    const fromClaude = await errorOf(() =>
      anthropic.messages.create({ model: CLAUDE, max_tokens: 5, messages: [{ role: 'user', content: 'a' }] }),
    );
    const fromGpt = await errorOf(() =>
      openai.chat.completions.create({ model: GPT, messages: [{ role: 'user', content: 'b' }] }),
    );
    expect(fromClaude).toBeInstanceOf(Anthropic.APIError);
    expect(fromClaude).toMatchObject({ status: 529, type: 'overloaded_error' });
    expect(fromGpt).toBeInstanceOf(OpenAI.InternalServerError);
    expect(fromGpt).toMatchObject({ status: 503 });
  });

  it('surfaces 401 as AuthenticationError', async () => {
    fake.enqueue({ fault: 'auth' }, { fault: 'auth' });
    const fromClaude = await errorOf(() =>
      anthropic.messages.create({ model: CLAUDE, max_tokens: 5, messages: [{ role: 'user', content: 'a' }] }),
    );
    const fromGpt = await errorOf(() =>
      openai.chat.completions.create({ model: GPT, messages: [{ role: 'user', content: 'b' }] }),
    );
    expect(fromClaude).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(fromGpt).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('surfaces server_error and invalid_request with the scripted message', async () => {
    fake.enqueue({ fault: 'server_error' }, { fault: 'invalid_request', message: 'prompt is too long' });
    const serverError = await errorOf(() =>
      anthropic.messages.create({ model: CLAUDE, max_tokens: 5, messages: [{ role: 'user', content: 'a' }] }),
    );
    const badRequest = await errorOf(() =>
      openai.chat.completions.create({ model: GPT, messages: [{ role: 'user', content: 'b' }] }),
    );
    expect(serverError).toBeInstanceOf(Anthropic.InternalServerError);
    expect(serverError).toMatchObject({ status: 500, type: 'api_error' });
    expect(badRequest).toBeInstanceOf(OpenAI.BadRequestError);
    expect(badRequest).toMatchObject({ message: expect.stringContaining('prompt is too long') });
  });

  it('surfaces a mid-stream error from both SDKs', async () => {
    fake.enqueue({ fault: 'stream_error' }, { fault: 'stream_error', message: 'boom' });
    const stream = anthropic.messages.stream({ model: CLAUDE, max_tokens: 5, messages: [{ role: 'user', content: 'a' }] });
    const fromClaude = await errorOf(() => stream.finalMessage());
    const fromGpt = await errorOf(async () => {
      const chunks = await openai.chat.completions.create({
        model: GPT,
        messages: [{ role: 'user', content: 'b' }],
        stream: true,
      });
      for await (const _chunk of chunks) {
        // drain until the error arrives
      }
    });
    expect(fromClaude).toBeInstanceOf(Anthropic.APIError);
    expect(fromClaude).toMatchObject({ type: 'overloaded_error' });
    expect(fromGpt).toBeInstanceOf(OpenAI.APIError);
    expect(fromGpt).toMatchObject({ message: expect.stringContaining('boom') });
  });

  it('holds the socket on timeout until the client gives up', async () => {
    fake.enqueue({ fault: 'timeout' });
    const error = await errorOf(() =>
      anthropic.messages.create(
        { model: CLAUDE, max_tokens: 5, messages: [{ role: 'user', content: 'a' }] },
        { timeout: 150 },
      ),
    );
    expect(error).toBeInstanceOf(Anthropic.APIConnectionTimeoutError);
  });

  it('sends malformed JSON that the SDKs fail to parse', async () => {
    fake.enqueue({ fault: 'malformed' }, { fault: 'malformed' });
    const plain = await errorOf(() =>
      anthropic.messages.create({ model: CLAUDE, max_tokens: 5, messages: [{ role: 'user', content: 'a' }] }),
    );
    // The SDK logs unparseable events at error level; keep the test output clean.
    const quiet = new OpenAI({ apiKey: 'test', baseURL: `${fake.url}/v1`, maxRetries: 0, logLevel: 'off' });
    const streamed = await errorOf(async () => {
      const chunks = await quiet.chat.completions.create({ model: GPT, messages: [{ role: 'user', content: 'b' }], stream: true });
      for await (const _chunk of chunks) {
        // drain until the parse error
      }
    });
    // By name: jest's module sandbox gives the SDK a different SyntaxError constructor.
    expect(plain).toMatchObject({ name: 'SyntaxError' });
    expect(streamed).toMatchObject({ name: 'SyntaxError' });
  });

  it('reports a throwing script handler as a 500', async () => {
    fake.script(() => {
      throw new Error('no script for this');
    });
    const error = await errorOf(() =>
      openai.chat.completions.create({ model: GPT, messages: [{ role: 'user', content: 'b' }] }),
    );
    expect(error).toMatchObject({ status: 500, message: expect.stringContaining('no script for this') });
  });
});

describe('other routes and lifecycle', () => {
  it('cuts a non-stream body short for stream_error', async () => {
    fake.enqueue({ fault: 'stream_error' });
    const error = await errorOf(() =>
      anthropic.messages.create({ model: CLAUDE, max_tokens: 5, messages: [{ role: 'user', content: 'a' }] }),
    );
    // undici's "body terminated" error, from outside jest's sandbox (so matched by name).
    expect(error).toMatchObject({ name: 'TypeError', message: 'terminated' });
  });

  it('answers unknown routes with a provider-shaped 404', async () => {
    const error = await errorOf(() => openai.models.list());
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(fake.requests[0]).toMatchObject({ provider: 'openai', method: 'GET', path: '/v1/models' });
  });

  it('counts tokens with the same estimate as replies', async () => {
    const count = await anthropic.messages.countTokens({ model: CLAUDE, messages: [{ role: 'user', content: 'z'.repeat(80) }] });
    expect(count.input_tokens).toBe(20);
  });

  it('close() drops held and delayed requests instead of waiting for them', async () => {
    const own = await startFakeLlm();
    own.enqueue({ fault: 'timeout' }, { text: 'late', delayMs: 60_000 });
    const client = new OpenAI({ apiKey: 'test', baseURL: `${own.url}/v1`, maxRetries: 0 });
    const held = errorOf(() => client.chat.completions.create({ model: GPT, messages: [{ role: 'user', content: 'a' }] }));
    const delayed = errorOf(() => client.chat.completions.create({ model: GPT, messages: [{ role: 'user', content: 'b' }] }));
    while (own.requests.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    const started = Date.now();
    await own.close();
    expect(await held).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(await delayed).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(Date.now() - started).toBeLessThan(500);
  });
});

describe('latency', () => {
  it('waits delayMs before answering', async () => {
    fake.enqueue({ text: 'slow', delayMs: 120 });
    const started = Date.now();
    await openai.chat.completions.create({ model: GPT, messages: [{ role: 'user', content: 'b' }] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });
});

describe('embeddings', () => {
  it('returns deterministic, normalised vectors through the SDK (base64 by default)', async () => {
    const response = await openai.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['the cat sat', 'the cat sat', 'stock market report'],
      dimensions: 64,
    });
    const [a, b, c] = response.data.map((item) => item.embedding);
    expect(a).toHaveLength(64);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const norm = Math.sqrt((a ?? []).reduce((sum, value) => sum + value * value, 0));
    expect(norm).toBeCloseTo(1, 5);
    expect(response.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('honours encoding_format float and the default dimension', async () => {
    const floats = await openai.embeddings.create({ model: 'm', input: 'hello', encoding_format: 'float' });
    const decoded = await openai.embeddings.create({ model: 'm', input: 'hello' });
    expect(floats.data[0]?.embedding).toHaveLength(384);
    const expected = floats.data[0]?.embedding ?? [];
    decoded.data[0]?.embedding.forEach((value, i) => expect(value).toBeCloseTo(expected[i] ?? NaN, 6));
  });
});
