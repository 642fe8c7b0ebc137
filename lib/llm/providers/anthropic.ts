import Anthropic from '@anthropic-ai/sdk';
import type { ChatMessage, CompletionRequest, CompletionResult, LlmProvider, StopReason, StreamDelta, ToolCallPart } from '../types.js';
import { toLlmError } from '../errors.js';
import { attemptTimeout } from './attempt-timeout.js';

/**
 * Anthropic Messages API. The SDK's own retries are off: Temporal's retry policy owns retrying, so
 * every attempt shows in the workflow history and a crash mid-retry loses nothing.
 */
export class AnthropicProvider implements LlmProvider {
  readonly id: string;
  private readonly client: Anthropic;

  /** `name` is the provider's config name (`anthropic`, or a custom endpoint speaking the Messages API). */
  constructor(opts: { apiKey: string; baseUrl?: string; timeoutMs?: number; name?: string }) {
    this.id = opts.name ?? 'anthropic';
    // authToken: null so ANTHROPIC_AUTH_TOKEN from the environment never reaches another endpoint.
    // logLevel off: the SDK would print unparsable stream events to the console; they reach us as
    // errors, which callModel logs (structured, scrubbed) with the attempt they failed.
    this.client = new Anthropic({ apiKey: opts.apiKey, authToken: null, baseURL: opts.baseUrl ?? null, maxRetries: 0, timeout: opts.timeoutMs ?? 120_000, logLevel: 'off' });
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const body = this.body(request);
    if (request.onDelta) return this.stream(body, request, request.onDelta);
    try {
      const response = await this.client.messages.create(body, { signal: request.signal, ...(request.timeoutMs ? { timeout: request.timeoutMs } : {}) });
      return fromAnthropicMessage(response);
    } catch (err) {
      throw toLlmError(err, this.id);
    }
  }

  private body(request: CompletionRequest): Anthropic.MessageCreateParamsNonStreaming {
    return {
      model: request.model,
      max_tokens: request.maxOutputTokens,
      // Prompt caching: breakpoints on the stable prefix (system, then tools) and on the older part of
      // the conversation, so each turn reads what the previous one wrote (see MAX_CACHE_BREAKPOINTS).
      system: [
        { type: 'text', text: request.system, cache_control: EPHEMERAL },
        ...(request.systemContext ? [{ type: 'text' as const, text: request.systemContext }] : []),
      ],
      // An empty tool list is left out (a summariser offers none).
      ...(request.tools.length
        ? {
            tools: withToolBreakpoint(
              request.tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.inputSchema as Anthropic.Tool.InputSchema })),
            ),
          }
        : {}),
      messages: withHistoryBreakpoint(request.messages.map(toAnthropicMessage)),
    };
  }

  /**
   * The same request over SSE: text and tool-input fragments are reported as they arrive, and the
   * final message (assembled by the SDK) is translated exactly as a non-streamed one. An `error`
   * event mid-stream, or a stream that ends before `message_stop`, is a transient failure.
   */
  private async stream(body: Anthropic.MessageCreateParamsNonStreaming, request: CompletionRequest, onDelta: (delta: StreamDelta) => void): Promise<CompletionResult> {
    const deadline = attemptTimeout(request.timeoutMs, request.signal);
    try {
      const stream = this.client.messages.stream(body, { signal: deadline.signal, ...(request.timeoutMs ? { timeout: request.timeoutMs } : {}) });
      /** Tool calls by content block index: input fragments name only the index. */
      const calls = new Map<number, { id: string; name: string }>();
      for await (const event of stream) {
        if (event.type === 'content_block_start' && event.content_block.type === 'tool_use') {
          calls.set(event.index, { id: event.content_block.id, name: event.content_block.name });
        } else if (event.type === 'content_block_delta') {
          if (event.delta.type === 'text_delta' && event.delta.text) onDelta({ type: 'text', text: event.delta.text });
          const call = calls.get(event.index);
          if (event.delta.type === 'input_json_delta' && call && event.delta.partial_json) {
            onDelta({ type: 'tool_input', callId: call.id, name: call.name, partialJson: event.delta.partial_json });
          }
        }
      }
      const message = await stream.finalMessage();
      // The SDK returns its snapshot even when the connection ended early; without a stop reason the
      // message is cut off, and its tool inputs may be incomplete.
      if (message.stop_reason === null) throw new SyntaxError('the stream ended before message_stop');
      return fromAnthropicMessage(message);
    } catch (err) {
      throw toLlmError(deadline.explain(err, this.id), this.id);
    } finally {
      deadline.clear();
    }
  }
}

const EPHEMERAL = { type: 'ephemeral' } as const;

/**
 * Anthropic allows at most 4 cache breakpoints per request; we use 3: the system prompt, the last
 * tool definition (system + tools = the stable prefix) and the last message before the newest user
 * turn (the conversation so far). A breakpoint caches everything before it, and a later request hits
 * the longest cached prefix within 20 blocks before its own breakpoints, so turn n reads what turn
 * n-1 wrote and writes only its own increment.
 */
export const MAX_CACHE_BREAKPOINTS = 4;

function withToolBreakpoint(tools: Anthropic.Tool[]): Anthropic.Tool[] {
  if (!tools.length) return tools;
  return tools.map((t, i) => (i === tools.length - 1 ? { ...t, cache_control: EPHEMERAL } : t));
}

/** The newest user turn: the last user message with text of its own (tool results are not a turn). */
function newestUserTurn(messages: Anthropic.MessageParam[]): number {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role === 'user' && Array.isArray(m.content) && m.content.some((b) => b.type === 'text')) return i;
  }
  return -1;
}

function withHistoryBreakpoint(messages: Anthropic.MessageParam[]): Anthropic.MessageParam[] {
  const target = newestUserTurn(messages) - 1;
  const message = messages[target];
  if (!message || !Array.isArray(message.content) || message.content.length === 0) return messages;
  const content = message.content.map((b, i, all) => (i === all.length - 1 ? withCacheControl(b) : b));
  return messages.map((m, i) => (i === target ? ({ ...m, content } as Anthropic.MessageParam) : m));
}

function withCacheControl(block: Anthropic.ContentBlockParam): Anthropic.ContentBlockParam {
  switch (block.type) {
    case 'text':
    case 'tool_use':
    case 'tool_result':
      return { ...block, cache_control: EPHEMERAL };
    default:
      return block;
  }
}

function toAnthropicMessage(message: ChatMessage): Anthropic.MessageParam {
  const content: Anthropic.ContentBlockParam[] = message.parts.map((part) => {
    switch (part.type) {
      case 'text':
        return { type: 'text', text: part.text };
      case 'tool_call':
        return { type: 'tool_use', id: part.id, name: part.name, input: part.input };
      case 'tool_result':
        return { type: 'tool_result', tool_use_id: part.toolCallId, content: part.content, is_error: part.isError ?? false };
    }
  });
  return { role: message.role, content };
}

function fromAnthropicMessage(response: Anthropic.Message): CompletionResult {
  if (!response || !Array.isArray(response.content)) throw new SyntaxError('response has no content array');
  const text = response.content
    .filter((b): b is Anthropic.TextBlock => b.type === 'text')
    .map((b) => b.text)
    .join('');
  const toolCalls: ToolCallPart[] = response.content
    .filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')
    .map((b) => ({ type: 'tool_call', id: b.id, name: b.name, input: (b.input ?? {}) as Record<string, unknown> }));
  const usage = response.usage;
  return {
    text,
    toolCalls,
    stopReason: mapStopReason(response.stop_reason),
    responseId: response.id,
    usage: {
      inputTokens: usage?.input_tokens ?? 0,
      outputTokens: usage?.output_tokens ?? 0,
      cacheReadTokens: usage?.cache_read_input_tokens ?? 0,
      cacheWriteTokens: usage?.cache_creation_input_tokens ?? 0,
    },
  };
}

function mapStopReason(reason: string | null): StopReason {
  if (reason === 'end_turn' || reason === 'stop_sequence') return 'end_turn';
  if (reason === 'tool_use') return 'tool_use';
  if (reason === 'max_tokens') return 'max_tokens';
  return 'other';
}
