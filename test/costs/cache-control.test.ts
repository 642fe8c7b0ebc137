/**
 * Anthropic prompt caching: where the `cache_control` breakpoints go, read from the request body the
 * fake LLM recorded, and that cache reads and writes come back from the usage.
 */
import { MAX_CACHE_BREAKPOINTS, AnthropicProvider } from '../../lib/llm/providers/anthropic.js';
import { OpenAiProvider } from '../../lib/llm/providers/openai.js';
import type { ChatMessage, ToolDefinition } from '../../lib/llm/types.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/server.js';

let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm();
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(() => fake.reset());

const tools: ToolDefinition[] = [
  { name: 'reply', description: 'Reply.', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } },
  { name: 'skip', description: 'Skip.', inputSchema: { type: 'object', properties: {} } },
];
const user = (text: string): ChatMessage => ({ role: 'user', parts: [{ type: 'text', text }] });
const assistant = (text: string): ChatMessage => ({ role: 'assistant', parts: [{ type: 'text', text }] });

type Block = { type: string; cache_control?: unknown; text?: string };
type Body = { system: Block[]; tools: (Block & { name: string })[]; messages: { role: string; content: Block[] }[] };

async function send(messages: ChatMessage[]): Promise<Body> {
  const provider = new AnthropicProvider({ apiKey: 'sk-ant-test-key-123456', baseUrl: fake.url });
  await provider.complete({ model: 'claude-sonnet-5-5', system: 'You are a test.', messages, tools, maxOutputTokens: 100 });
  return fake.requests[fake.requests.length - 1]!.body as Body;
}

const breakpoints = (body: Body) => (JSON.stringify(body).match(/"cache_control"/g) ?? []).length;
/** [message index, block index] of every breakpoint in the messages. */
const messageBreakpoints = (body: Body) =>
  body.messages.flatMap((m, i) => m.content.flatMap((b, j) => (b.cache_control ? [[i, j]] : [])));

test('first turn: the system prompt and the last tool definition are breakpoints, no message is', async () => {
  const body = await send([user('hello')]);
  expect(body.system[0]?.cache_control).toEqual({ type: 'ephemeral' });
  expect(body.tools.map((t) => [t.name, t.cache_control])).toEqual([
    ['reply', undefined],
    ['skip', { type: 'ephemeral' }],
  ]);
  expect(messageBreakpoints(body)).toEqual([]);
  expect(breakpoints(body)).toBe(2);
});

test('later turns: the last message before the newest user turn is a breakpoint (3 in all)', async () => {
  const body = await send([user('q1'), assistant('a1'), user('q2'), assistant('a2'), user('q3')]);
  expect(messageBreakpoints(body)).toEqual([[3, 0]]);
  expect(body.messages[3]?.content[0]).toEqual({ type: 'text', text: 'a2', cache_control: { type: 'ephemeral' } });
  expect(breakpoints(body)).toBe(3);
  expect(breakpoints(body)).toBeLessThanOrEqual(MAX_CACHE_BREAKPOINTS);
});

test('within a tool loop the breakpoint stays before the newest user text, on the last block of that message', async () => {
  const body = await send([
    user('q1'),
    { role: 'assistant', parts: [{ type: 'text', text: 'looking' }, { type: 'tool_call', id: 'toolu_1', name: 'skip', input: {} }] },
    { role: 'user', parts: [{ type: 'tool_result', toolCallId: 'toolu_1', content: 'done' }] },
    assistant('a1'),
    user('q2'),
    { role: 'assistant', parts: [{ type: 'tool_call', id: 'toolu_2', name: 'skip', input: {} }] },
    { role: 'user', parts: [{ type: 'tool_result', toolCallId: 'toolu_2', content: 'ok' }] },
  ]);
  expect(messageBreakpoints(body)).toEqual([[3, 0]]);
  expect(breakpoints(body)).toBe(3);
});

test('a breakpoint on a tool result when that is what precedes the newest user turn', async () => {
  const body = await send([
    user('q1'),
    { role: 'assistant', parts: [{ type: 'tool_call', id: 'toolu_1', name: 'reply', input: { text: 'hi' } }] },
    { role: 'user', parts: [{ type: 'tool_result', toolCallId: 'toolu_1', content: 'Delivered.' }] },
    user('q2'),
  ]);
  expect(messageBreakpoints(body)).toEqual([[2, 0]]);
  expect(body.messages[2]?.content[0]).toMatchObject({ type: 'tool_result', cache_control: { type: 'ephemeral' } });
});

test('cache reads and writes are reported from the usage', async () => {
  fake.enqueue({ text: 'cached', usage: { input: 12, output: 7, cacheRead: 3000, cacheWrite: 450 } });
  const provider = new AnthropicProvider({ apiKey: 'sk-ant-test-key-123456', baseUrl: fake.url });
  const result = await provider.complete({ model: 'claude-sonnet-5-5', system: 's', messages: [user('q')], tools, maxOutputTokens: 100 });
  expect(result.usage).toEqual({ inputTokens: 12, outputTokens: 7, cacheReadTokens: 3000, cacheWriteTokens: 450 });

  fake.enqueue({ text: 'cached', usage: { input: 12, output: 7, cacheRead: 3000 } });
  const openai = new OpenAiProvider({ apiKey: 'sk-test-openai-123456', baseUrl: `${fake.url}/v1` });
  const viaOpenAi = await openai.complete({ model: 'gpt-5-mini', system: 's', messages: [user('q')], tools, maxOutputTokens: 100 });
  expect(viaOpenAi.usage).toEqual({ inputTokens: 12, outputTokens: 7, cacheReadTokens: 3000, cacheWriteTokens: 0 });
  expect(JSON.stringify(fake.requests[1]?.body)).not.toContain('cache_control');
});
