/**
 * A provider-neutral conversation format. Context entries in the database hold these; each provider
 * module translates them to and from its own wire format.
 */

export interface TextPart {
  type: 'text';
  text: string;
}
export interface ToolCallPart {
  type: 'tool_call';
  id: string;
  name: string;
  input: Record<string, unknown>;
}
export interface ToolResultPart {
  type: 'tool_result';
  toolCallId: string;
  content: string;
  isError?: boolean;
}

export type ContentPart = TextPart | ToolCallPart | ToolResultPart;

/** Tool results travel in a user message, as Anthropic requires; OpenAI's adapter splits them out. */
export interface ChatMessage {
  role: 'user' | 'assistant';
  parts: ContentPart[];
}

export interface ToolDefinition {
  name: string;
  description: string;
  /** JSON Schema generated from the tool's zod schema. */
  inputSchema: Record<string, unknown>;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

export interface CompletionRequest {
  model: string;
  system: string;
  /**
   * Context that changes now and then (the agent's rendered memories): sent after the stable system
   * prompt, outside its cache breakpoint, so a change here leaves the cached prefix intact.
   */
  systemContext?: string;
  messages: ChatMessage[];
  tools: ToolDefinition[];
  maxOutputTokens: number;
  signal?: AbortSignal;
  /** Overrides the client's timeout for this request. */
  timeoutMs?: number;
  /**
   * When set, the provider streams the response (SSE) and reports what arrives, in order; the
   * returned CompletionResult is the same as without streaming.
   */
  onDelta?: (delta: StreamDelta) => void;
}

/**
 * A piece of a response as it streams in: answer text, or a fragment of a tool call's JSON
 * arguments (`callId` is the provider's tool call id, known from the call's first fragment).
 */
export type StreamDelta =
  | { type: 'text'; text: string }
  | { type: 'tool_input'; callId: string; name: string; partialJson: string };

export type StopReason = 'end_turn' | 'tool_use' | 'max_tokens' | 'other';

export interface CompletionResult {
  text: string;
  toolCalls: ToolCallPart[];
  stopReason: StopReason;
  usage: Usage;
  /** The provider's id for the response, for tracing. */
  responseId?: string;
}

export interface LlmProvider {
  readonly id: string;
  complete(request: CompletionRequest): Promise<CompletionResult>;
}
