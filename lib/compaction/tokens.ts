import type { ChatMessage, ContentPart, ToolDefinition, Usage } from '../llm/types.js';

/**
 * Token accounting for compaction. The provider's reported usage is the truth and is preferred
 * wherever a call has been made (`contextTokensOf`); everything else is an estimate.
 *
 * The estimate is the usual rule of thumb: about four characters per token for English text and
 * JSON (tokenisers average 3.5–4.5 on such text), rounded up, plus a few tokens of framing per
 * message and per part (role markers, tool-call wrappers). It errs slightly high for English and
 * low for CJK scripts; compaction thresholds leave 5 % headroom for that.
 */

export const CHARS_PER_TOKEN = 4;
/** Framing tokens a provider adds around each message (role, separators). */
export const MESSAGE_OVERHEAD_TOKENS = 4;
/** Framing tokens around each content part (tool_use / tool_result wrappers, ids). */
export const PART_OVERHEAD_TOKENS = 3;

/** The tokens the context took in one call: uncached input plus cache reads and writes (all of it was read). */
export function contextTokensOf(usage: Pick<Usage, 'inputTokens' | 'cacheReadTokens' | 'cacheWriteTokens'>): number {
  return usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
}

export function estimateTextTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

export function estimatePartTokens(part: ContentPart): number {
  switch (part.type) {
    case 'text':
      return PART_OVERHEAD_TOKENS + estimateTextTokens(part.text);
    case 'tool_call':
      return PART_OVERHEAD_TOKENS + estimateTextTokens(part.name) + estimateTextTokens(JSON.stringify(part.input));
    case 'tool_result':
      return PART_OVERHEAD_TOKENS + estimateTextTokens(part.content);
  }
}

export function estimateMessageTokens(message: ChatMessage): number {
  return message.parts.reduce((sum, part) => sum + estimatePartTokens(part), MESSAGE_OVERHEAD_TOKENS);
}

export function estimateMessagesTokens(messages: readonly ChatMessage[]): number {
  return messages.reduce((sum, m) => sum + estimateMessageTokens(m), 0);
}

/** An estimate of a whole request's input: system prompt, tool definitions and conversation. */
export function estimateContextTokens(request: { system: string; tools: readonly ToolDefinition[]; messages: readonly ChatMessage[] }): number {
  const tools = request.tools.reduce(
    (sum, t) => sum + PART_OVERHEAD_TOKENS + estimateTextTokens(t.name) + estimateTextTokens(t.description) + estimateTextTokens(JSON.stringify(t.inputSchema)),
    0,
  );
  return estimateTextTokens(request.system) + tools + estimateMessagesTokens(request.messages);
}
