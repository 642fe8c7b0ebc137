import OpenAI from 'openai';
import type { ChatMessage, CompletionRequest, CompletionResult, LlmProvider, StopReason, StreamDelta, ToolCallPart } from '../types.js';
import { toLlmError } from '../errors.js';
import { attemptTimeout } from './attempt-timeout.js';

type OpenAiMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;

/** OpenAI Chat Completions (and any endpoint speaking it). SDK retries are off, as for Anthropic. */
export class OpenAiProvider implements LlmProvider {
  readonly id: string;
  private readonly client: OpenAI;
  /** OpenAI itself takes `max_completion_tokens`; compatible servers reliably understand `max_tokens`. */
  private readonly native: boolean;

  /** `name` is the provider's config name (`openai`, a preset such as `groq`, or a custom endpoint). */
  constructor(opts: { apiKey: string; baseUrl?: string; timeoutMs?: number; name?: string; native?: boolean }) {
    this.id = opts.name ?? 'openai';
    this.native = opts.native ?? this.id === 'openai';
    this.client = new OpenAI({
      apiKey: opts.apiKey,
      baseURL: opts.baseUrl ?? null,
      maxRetries: 0,
      timeout: opts.timeoutMs ?? 120_000,
      // As for Anthropic: stream parse failures reach us as errors; the SDK must not print them.
      logLevel: 'off',
      // OPENAI_ORG_ID / OPENAI_PROJECT_ID from the environment belong to OpenAI only.
      ...(this.native ? {} : { organization: null, project: null }),
    });
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const body = this.body(request);
    if (request.onDelta) return this.stream(body, request, request.onDelta);
    try {
      const response = await this.client.chat.completions.create(body, { signal: request.signal, ...(request.timeoutMs ? { timeout: request.timeoutMs } : {}) });
      return fromCompletion(response);
    } catch (err) {
      throw toLlmError(err, this.id);
    }
  }

  private body(request: CompletionRequest): OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming {
    return {
      model: request.model,
      ...(this.native ? { max_completion_tokens: request.maxOutputTokens } : { max_tokens: request.maxOutputTokens }),
      messages: [
        { role: 'system', content: request.system },
        ...(request.systemContext ? [{ role: 'system' as const, content: request.systemContext }] : []),
        ...request.messages.flatMap(toOpenAiMessages),
      ],
      ...(request.tools.length
        ? { tools: request.tools.map((t) => ({ type: 'function' as const, function: { name: t.name, description: t.description, parameters: t.inputSchema } })) }
        : {}),
    };
  }

  /**
   * The same request over SSE. Chunks are assembled here (text, tool calls by index, finish reason,
   * and the usage chunk `include_usage` asks for) into the completion a non-streamed call returns, so
   * both paths share one translation. An `{ error }` chunk mid-stream, or a stream that ends before a
   * finish reason, is a transient failure.
   */
  private async stream(
    body: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming,
    request: CompletionRequest,
    onDelta: (delta: StreamDelta) => void,
  ): Promise<CompletionResult> {
    const deadline = attemptTimeout(request.timeoutMs, request.signal);
    try {
      const stream = await this.client.chat.completions.create(
        { ...body, stream: true, stream_options: { include_usage: true } },
        { signal: deadline.signal, ...(request.timeoutMs ? { timeout: request.timeoutMs } : {}) },
      );
      const assembled = new CompletionAssembler();
      for await (const chunk of stream) assembled.add(chunk, onDelta);
      return fromCompletion(assembled.completion());
    } catch (err) {
      throw toLlmError(deadline.explain(err, this.id), this.id);
    } finally {
      deadline.clear();
    }
  }
}

type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk;

/** Builds a ChatCompletion from stream chunks, reporting text and tool-argument fragments as they come. */
class CompletionAssembler {
  private id = '';
  private model = '';
  private created = 0;
  private text: string | null = null;
  private finishReason: OpenAI.Chat.Completions.ChatCompletion.Choice['finish_reason'] | undefined;
  private usage: OpenAI.Completions.CompletionUsage | undefined;
  /** Tool calls by their stream index: only the first fragment carries the id and name. */
  private readonly calls = new Map<number, { id: string; name: string; arguments: string }>();

  add(chunk: Chunk, onDelta: (delta: StreamDelta) => void): void {
    this.id ||= chunk.id;
    this.model ||= chunk.model;
    this.created ||= chunk.created;
    if (chunk.usage) this.usage = chunk.usage;
    const choice = chunk.choices?.[0];
    if (!choice) return;
    const delta = choice.delta;
    if (typeof delta?.content === 'string' && delta.content) {
      this.text = (this.text ?? '') + delta.content;
      onDelta({ type: 'text', text: delta.content });
    }
    for (const part of delta?.tool_calls ?? []) {
      let call = this.calls.get(part.index);
      if (!call) this.calls.set(part.index, (call = { id: part.id ?? '', name: part.function?.name ?? '', arguments: '' }));
      if (part.id) call.id = part.id;
      if (part.function?.name) call.name = part.function.name;
      const fragment = part.function?.arguments;
      if (fragment) {
        call.arguments += fragment;
        if (call.id) onDelta({ type: 'tool_input', callId: call.id, name: call.name, partialJson: fragment });
      }
    }
    if (choice.finish_reason) this.finishReason = choice.finish_reason;
  }

  completion(): OpenAI.Chat.Completions.ChatCompletion {
    // A cut connection ends the iteration quietly; without a finish reason the answer is incomplete.
    if (this.finishReason === undefined) throw new SyntaxError('the stream ended before a finish_reason');
    const toolCalls = [...this.calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, c]) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } }));
    return {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      choices: [
        {
          index: 0,
          finish_reason: this.finishReason,
          logprobs: null,
          message: { role: 'assistant', content: this.text, refusal: null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
        },
      ],
      ...(this.usage ? { usage: this.usage } : {}),
    };
  }
}

/** One neutral message may become several: each tool result is its own `tool` message in OpenAI. */
function toOpenAiMessages(message: ChatMessage): OpenAiMessage[] {
  const text = message.parts.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join('');
  if (message.role === 'assistant') {
    const calls = message.parts.flatMap((p) => (p.type === 'tool_call' ? [p] : []));
    return [
      {
        role: 'assistant',
        content: text || null,
        ...(calls.length
          ? { tool_calls: calls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: JSON.stringify(c.input) } })) }
          : {}),
      },
    ];
  }
  const results: OpenAiMessage[] = message.parts.flatMap((p) =>
    p.type === 'tool_result' ? [{ role: 'tool' as const, tool_call_id: p.toolCallId, content: p.isError ? `Error: ${p.content}` : p.content }] : [],
  );
  return text ? [...results, { role: 'user', content: text }] : results;
}

function fromCompletion(response: OpenAI.Chat.Completions.ChatCompletion): CompletionResult {
  const choice = response?.choices?.[0];
  if (!choice?.message) throw new SyntaxError('response has no choices');
  const toolCalls: ToolCallPart[] = (choice.message.tool_calls ?? []).flatMap((call) =>
    call.type === 'function' ? [{ type: 'tool_call' as const, id: call.id, name: call.function.name, input: parseArguments(call.function.arguments) }] : [],
  );
  const usage = response.usage;
  const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  return {
    text: choice.message.content ?? '',
    toolCalls,
    stopReason: mapFinishReason(choice.finish_reason),
    responseId: response.id,
    usage: {
      inputTokens: Math.max(0, (usage?.prompt_tokens ?? 0) - cached),
      outputTokens: usage?.completion_tokens ?? 0,
      cacheReadTokens: cached,
      cacheWriteTokens: 0,
    },
  };
}

function parseArguments(raw: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(raw || '{}');
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
  } catch {
    // The model produced invalid JSON; pass it on so the tool reports a clear validation error.
    return { __invalid_json: raw };
  }
}

function mapFinishReason(reason: string | null | undefined): StopReason {
  if (reason === 'stop') return 'end_turn';
  if (reason === 'tool_calls' || reason === 'function_call') return 'tool_use';
  if (reason === 'length') return 'max_tokens';
  return 'other';
}
