import OpenAI from 'openai';
import type { ChatMessage, CompletionRequest, CompletionResult, LlmProvider, StopReason, ToolCallPart } from '../types.js';
import { toLlmError } from '../errors.js';

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
      // OPENAI_ORG_ID / OPENAI_PROJECT_ID from the environment belong to OpenAI only.
      ...(this.native ? {} : { organization: null, project: null }),
    });
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    try {
      const response = await this.client.chat.completions.create(
        {
          model: request.model,
          ...(this.native ? { max_completion_tokens: request.maxOutputTokens } : { max_tokens: request.maxOutputTokens }),
          messages: [{ role: 'system', content: request.system }, ...request.messages.flatMap(toOpenAiMessages)],
          ...(request.tools.length
            ? { tools: request.tools.map((t) => ({ type: 'function' as const, function: { name: t.name, description: t.description, parameters: t.inputSchema } })) }
            : {}),
        },
        { signal: request.signal, ...(request.timeoutMs ? { timeout: request.timeoutMs } : {}) },
      );
      return fromCompletion(response);
    } catch (err) {
      throw toLlmError(err, this.id);
    }
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
