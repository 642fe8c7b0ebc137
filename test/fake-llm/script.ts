/**
 * Provider-neutral scripting for the fake LLM server.
 *
 * Tests describe *what the model does* (reply text, tool calls, usage, faults) once,
 * and the server renders it in whichever wire format the caller spoke, so the same
 * script drives both the Anthropic and the OpenAI code paths.
 */

export type Provider = 'anthropic' | 'openai';

export interface ScriptToolCall {
  name: string;
  input: Record<string, unknown>;
  /** Wire id; generated in the provider's style (`toolu_...` / `call_...`) when omitted. */
  id?: string;
}

/**
 * Token usage of one reply, in Anthropic's accounting: `input` is the *uncached* input.
 * For OpenAI the server reports `prompt_tokens = input + cacheRead + cacheWrite` and
 * `cached_tokens = cacheRead`, because that is how the same request is billed there.
 */
export interface ScriptUsage {
  input: number;
  output: number;
  cacheRead?: number;
  cacheWrite?: number;
}

export type StopReason = 'end_turn' | 'tool_use' | 'max_tokens';

export interface ReplyStep {
  text?: string;
  toolCalls?: ScriptToolCall[];
  /** Estimated from the request and reply (chars / 4) when omitted. */
  usage?: ScriptUsage;
  /** Defaults to `tool_use` when there are tool calls, else `end_turn`. */
  stopReason?: StopReason;
  /** Wait this long before the first byte of the response (latency simulation). */
  delayMs?: number;
  /** Streamed responses only: wait this long before each content delta, so a client sees them arrive apart. */
  chunkDelayMs?: number;
}

export type FaultKind =
  | 'rate_limit'
  | 'server_error'
  | 'overloaded'
  | 'auth'
  | 'invalid_request'
  /** Never answer: the socket is held until the client gives up or the server closes. */
  | 'timeout'
  /** 200 with a body (or SSE event) that is not valid JSON. */
  | 'malformed'
  /** Start a stream, then fail in the middle (for non-stream requests: cut the body). */
  | 'stream_error';

export interface FaultStep {
  fault: FaultKind;
  /** Sent as `retry-after` on rate limits; defaults to 1. */
  retryAfterSeconds?: number;
  /** Overrides the provider's usual error message. */
  message?: string;
  /** `stream_error` only: the text streamed (word by word) before the error event; defaults to `partial`. */
  partialText?: string;
}

export type ScriptStep = ReplyStep | FaultStep;

export interface NeutralToolResult {
  toolCallId: string;
  text: string;
  isError?: boolean;
}

export interface NeutralToolCall {
  id: string;
  name: string;
  input: Record<string, unknown>;
}

/**
 * One conversation turn. Tool results get their own `tool` turn for both providers
 * (Anthropic sends them inside a user message, OpenAI as one message per result), so a
 * script sees the same shape whichever SDK produced the request.
 */
export interface NeutralMessage {
  role: 'user' | 'assistant' | 'tool';
  text: string;
  toolCalls?: NeutralToolCall[];
  toolResults?: NeutralToolResult[];
}

export interface NeutralRequest {
  provider: Provider;
  model: string;
  /** System prompt text: Anthropic `system` (+ any `role: 'system'` messages); OpenAI system/developer messages. */
  system: string;
  messages: NeutralMessage[];
  /** Names of the tools offered to the model. */
  tools: string[];
  stream: boolean;
  /** Text of the last `user` turn; tool results never count as user text. */
  lastUserText: string;
  /** Rough input size (chars / 4), used for usage when the script gives none. */
  estimatedInputTokens: number;
  /** The parsed request body, for assertions the neutral view does not cover. */
  body: Record<string, unknown>;
}

export type ScriptHandler = (req: NeutralRequest) => ScriptStep | Promise<ScriptStep>;

export function isFault(step: ScriptStep): step is FaultStep {
  return 'fault' in step;
}

/** The responder used when no handler is set and the queue is empty. */
export const defaultHandler: ScriptHandler = () => ({ text: 'ok' });

/** Rough token count: ~4 characters per token is close enough for budgets and benchmarks. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
