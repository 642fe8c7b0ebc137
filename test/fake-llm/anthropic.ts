/** Anthropic Messages API wire format (`POST /v1/messages`), JSON and SSE. */
import type { ServerResponse } from 'node:http';
import type { ErrorResponse, HttpErrorKind, ProviderAdapter, RenderContext, ResolvedReply } from './provider.js';
import { finishNeutral, pushToolResults } from './provider.js';
import type { FaultStep, NeutralMessage, NeutralRequest, NeutralToolCall, NeutralToolResult } from './script.js';
import type { JsonObject } from './util.js';
import {
  asRecords,
  asString,
  endResponse,
  isRecord,
  pause,
  randomId,
  sendJson,
  splitEven,
  startSse,
  wordChunks,
  writeSse,
} from './util.js';

// ---------------------------------------------------------------- request -> neutral

/** `content` is either a plain string or an array of blocks; only text blocks carry text. */
function blockText(content: unknown): string {
  if (typeof content === 'string') return content;
  return asRecords(content)
    .filter((block) => block['type'] === 'text')
    .map((block) => asString(block['text']) ?? '')
    .join('\n');
}

function toolResultsOf(blocks: JsonObject[]): NeutralToolResult[] {
  return blocks
    .filter((block) => block['type'] === 'tool_result')
    .map((block) => ({
      toolCallId: asString(block['tool_use_id']) ?? '',
      text: blockText(block['content']),
      ...(block['is_error'] === true ? { isError: true } : {}),
    }));
}

function toolCallsOf(blocks: JsonObject[]): NeutralToolCall[] {
  return blocks
    .filter((block) => block['type'] === 'tool_use')
    .map((block) => ({
      id: asString(block['id']) ?? '',
      name: asString(block['name']) ?? '',
      input: isRecord(block['input']) ? block['input'] : {},
    }));
}

/** A user message may mix tool results and text; they become a `tool` turn then a `user` turn. */
function addUserMessage(messages: NeutralMessage[], content: unknown): void {
  if (typeof content === 'string') {
    messages.push({ role: 'user', text: content });
    return;
  }
  const blocks = asRecords(content);
  pushToolResults(messages, toolResultsOf(blocks));
  if (blocks.some((block) => block['type'] !== 'tool_result')) {
    messages.push({ role: 'user', text: blockText(blocks) });
  }
}

function addAssistantMessage(messages: NeutralMessage[], content: unknown): void {
  const toolCalls = typeof content === 'string' ? [] : toolCallsOf(asRecords(content));
  messages.push({ role: 'assistant', text: blockText(content), ...(toolCalls.length > 0 ? { toolCalls } : {}) });
}

export function anthropicToNeutral(body: JsonObject): NeutralRequest {
  const system: string[] = [];
  const topSystem = blockText(body['system']);
  if (topSystem !== '') system.push(topSystem);
  const messages: NeutralMessage[] = [];
  for (const message of asRecords(body['messages'])) {
    const role = message['role'];
    // This SDK version also accepts `role: 'system'` turns inside `messages`.
    if (role === 'system') system.push(blockText(message['content']));
    else if (role === 'assistant') addAssistantMessage(messages, message['content']);
    else addUserMessage(messages, message['content']);
  }
  return finishNeutral({
    provider: 'anthropic',
    body,
    model: asString(body['model']) ?? '',
    system: system.join('\n'),
    messages,
    tools: asRecords(body['tools']).flatMap((tool) => asString(tool['name']) ?? []),
  });
}

// ---------------------------------------------------------------- reply rendering

interface WireToolUse {
  type: 'tool_use';
  id: string;
  name: string;
  input: Record<string, unknown>;
  caller: { type: 'direct' };
}
type WireBlock = { type: 'text'; text: string; citations: null } | WireToolUse;

function contentBlocks(reply: ResolvedReply): WireBlock[] {
  const blocks: WireBlock[] = [];
  if (reply.text !== undefined) blocks.push({ type: 'text', text: reply.text, citations: null });
  for (const call of reply.toolCalls) {
    blocks.push({
      type: 'tool_use',
      id: call.id ?? randomId('toolu_01', 22),
      name: call.name,
      input: call.input,
      caller: { type: 'direct' },
    });
  }
  return blocks;
}

function wireUsage(reply: ResolvedReply, outputTokens: number): JsonObject {
  const { input, cacheRead, cacheWrite } = reply.usage;
  return {
    input_tokens: input,
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
    cache_creation: { ephemeral_5m_input_tokens: cacheWrite, ephemeral_1h_input_tokens: 0 },
    output_tokens: outputTokens,
    output_tokens_details: null,
    server_tool_use: null,
    service_tier: 'standard',
    inference_geo: null,
    speed: null,
  };
}

function messageEnvelope(reply: ResolvedReply, id: string): JsonObject {
  return {
    id,
    type: 'message',
    role: 'assistant',
    model: reply.model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    stop_details: null,
    container: null,
    diagnostics: null,
  };
}

function sendMessage(res: ServerResponse, reply: ResolvedReply, ctx: RenderContext): void {
  const message = {
    ...messageEnvelope(reply, randomId('msg_01', 22)),
    content: contentBlocks(reply),
    stop_reason: reply.stopReason,
    usage: wireUsage(reply, reply.usage.output),
  };
  sendJson(res, 200, message, { 'request-id': ctx.requestId });
}

/** Deltas for one block: text by words; tool input as JSON in a few fragments, led by an empty one like the API. */
function blockDeltas(block: WireBlock): JsonObject[] {
  if (block.type === 'text') return wordChunks(block.text).map((text) => ({ type: 'text_delta', text }));
  const fragments = ['', ...splitEven(JSON.stringify(block.input), 3)];
  return fragments.map((partial_json) => ({ type: 'input_json_delta', partial_json }));
}

/** The block as announced by `content_block_start`: empty text, or tool input `{}` to be filled by deltas. */
function startedBlock(block: WireBlock): WireBlock {
  return block.type === 'text' ? { ...block, text: '' } : { ...block, input: {} };
}

async function streamBlock(res: ServerResponse, block: WireBlock, index: number, reply: ResolvedReply, ctx: RenderContext): Promise<void> {
  writeSse(res, { type: 'content_block_start', index, content_block: startedBlock(block) }, 'content_block_start');
  // The API interleaves keep-alive pings; clients must skip them.
  if (index === 0) writeSse(res, { type: 'ping' }, 'ping');
  for (const delta of blockDeltas(block)) {
    await pause(reply.chunkDelayMs, ctx.signal);
    writeSse(res, { type: 'content_block_delta', index, delta }, 'content_block_delta');
  }
  writeSse(res, { type: 'content_block_stop', index }, 'content_block_stop');
}

async function streamMessage(res: ServerResponse, reply: ResolvedReply, ctx: RenderContext): Promise<void> {
  startSse(res, { 'request-id': ctx.requestId });
  // message_start reports the input side; output_tokens is only final in message_delta.
  const message = { ...messageEnvelope(reply, randomId('msg_01', 22)), usage: wireUsage(reply, 1) };
  writeSse(res, { type: 'message_start', message }, 'message_start');
  const blocks = contentBlocks(reply);
  if (blocks.length === 0) writeSse(res, { type: 'ping' }, 'ping');
  for (const [index, block] of blocks.entries()) await streamBlock(res, block, index, reply, ctx);
  const { input, cacheRead, cacheWrite, output } = reply.usage;
  writeSse(
    res,
    {
      type: 'message_delta',
      delta: { stop_reason: reply.stopReason, stop_sequence: null, stop_details: null, container: null },
      // Cumulative totals: the SDK overwrites its snapshot with these, it does not add.
      usage: {
        input_tokens: input,
        cache_creation_input_tokens: cacheWrite,
        cache_read_input_tokens: cacheRead,
        output_tokens: output,
        output_tokens_details: null,
        server_tool_use: null,
      },
    },
    'message_delta',
  );
  writeSse(res, { type: 'message_stop' }, 'message_stop');
  endResponse(res);
}

// ---------------------------------------------------------------- errors

const ERRORS: Record<HttpErrorKind, { status: number; type: string; message: string }> = {
  rate_limit: {
    status: 429,
    type: 'rate_limit_error',
    message: "This request would exceed your organization's rate limit. Please try again later.",
  },
  server_error: { status: 500, type: 'api_error', message: 'Internal server error' },
  // 529 is Anthropic-specific: the API is overloaded, not the caller.
  overloaded: { status: 529, type: 'overloaded_error', message: 'Overloaded' },
  auth: { status: 401, type: 'authentication_error', message: 'invalid x-api-key' },
  invalid_request: { status: 400, type: 'invalid_request_error', message: 'Invalid request' },
  not_found: { status: 404, type: 'not_found_error', message: 'Not found' },
};

function errorBody(type: string, message: string, requestId: string): JsonObject {
  return { type: 'error', error: { type, message }, request_id: requestId };
}

function errorResponse(kind: HttpErrorKind, fault: Partial<FaultStep>, ctx: RenderContext): ErrorResponse {
  const spec = ERRORS[kind];
  const headers: Record<string, string> = { 'request-id': ctx.requestId };
  if (kind === 'rate_limit') headers['retry-after'] = String(fault.retryAfterSeconds ?? 1);
  return { status: spec.status, body: errorBody(spec.type, fault.message ?? spec.message, ctx.requestId), headers };
}

/** A stream that starts normally, then gets an `event: error` (how the API reports overload mid-stream). */
function streamError(res: ServerResponse, fault: FaultStep, ctx: RenderContext): void {
  startSse(res, { 'request-id': ctx.requestId });
  const reply: ResolvedReply = {
    model: asString(ctx.body['model']) ?? '',
    text: 'partial',
    toolCalls: [],
    stopReason: 'end_turn',
    usage: { input: 1, output: 1, cacheRead: 0, cacheWrite: 0 },
    chunkDelayMs: 0,
  };
  const message = { ...messageEnvelope(reply, randomId('msg_01', 22)), usage: wireUsage(reply, 1) };
  writeSse(res, { type: 'message_start', message }, 'message_start');
  const block = { type: 'text', text: '', citations: null };
  writeSse(res, { type: 'content_block_start', index: 0, content_block: block }, 'content_block_start');
  for (const text of wordChunks(fault.partialText ?? 'partial')) {
    writeSse(res, { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, 'content_block_delta');
  }
  writeSse(res, errorBody('overloaded_error', fault.message ?? 'Overloaded', ctx.requestId), 'error');
  endResponse(res);
}

/** Truncated JSON: a 200 whose body (or first SSE event) cannot be parsed. */
function malformed(res: ServerResponse, stream: boolean, ctx: RenderContext): void {
  const broken = `{"type":"message_start","message":{"id":"${randomId('msg_01', 22)}","content":[`;
  if (!stream) {
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': ctx.requestId });
    res.end(broken);
    return;
  }
  startSse(res, { 'request-id': ctx.requestId });
  writeSse(res, broken, 'message_start');
  endResponse(res);
}

export const anthropicAdapter: ProviderAdapter = {
  provider: 'anthropic',
  requestIdHeader: 'request-id',
  newRequestId: () => randomId('req_01', 22),
  toNeutral: anthropicToNeutral,
  reply: sendMessage,
  stream: streamMessage,
  streamError,
  malformed,
  error: errorResponse,
};

/** `POST /v1/messages/count_tokens`: same rough estimate the replies use. */
export function countTokensBody(body: JsonObject): JsonObject {
  return { input_tokens: anthropicToNeutral(body).estimatedInputTokens };
}

