/** OpenAI Chat Completions wire format (`POST /v1/chat/completions`), JSON and SSE. */
import type { ServerResponse } from 'node:http';
import type { ErrorResponse, HttpErrorKind, ProviderAdapter, RenderContext, ResolvedReply } from './provider.js';
import { finishNeutral, pushToolResults } from './provider.js';
import type { FaultStep, NeutralMessage, NeutralRequest, NeutralToolCall, StopReason } from './script.js';
import type { JsonObject } from './util.js';
import {
  asRecords,
  asString,
  endResponse,
  isRecord,
  parseJsonObject,
  pause,
  randomId,
  sendJson,
  splitEven,
  startSse,
  wordChunks,
  writeSse,
} from './util.js';

// ---------------------------------------------------------------- request -> neutral

/** `content` is a string, an array of parts (`text`, `refusal`, images...) or null. */
function partsText(content: unknown): string {
  if (typeof content === 'string') return content;
  return asRecords(content)
    .map((part) => asString(part['text']) ?? asString(part['refusal']) ?? '')
    .filter((text) => text !== '')
    .join('\n');
}

function toolCallOf(call: JsonObject): NeutralToolCall {
  const fn = isRecord(call['function']) ? call['function'] : {};
  // Custom (free-form) tools carry a raw string input instead of JSON arguments.
  const custom = isRecord(call['custom']) ? call['custom'] : undefined;
  return {
    id: asString(call['id']) ?? '',
    name: asString(fn['name']) ?? asString(custom?.['name']) ?? '',
    input: custom ? { input: custom['input'] } : parseJsonObject(asString(fn['arguments']) ?? '{}'),
  };
}

function addMessage(messages: NeutralMessage[], system: string[], message: JsonObject): void {
  const role = message['role'];
  const text = partsText(message['content']);
  if (role === 'system' || role === 'developer') {
    system.push(text);
  } else if (role === 'assistant') {
    const toolCalls = asRecords(message['tool_calls']).map(toolCallOf);
    messages.push({ role: 'assistant', text, ...(toolCalls.length > 0 ? { toolCalls } : {}) });
  } else if (role === 'tool' || role === 'function') {
    // One message per result on the wire; merged into one `tool` turn like Anthropic's.
    const toolCallId = asString(message['tool_call_id']) ?? asString(message['name']) ?? '';
    pushToolResults(messages, [{ toolCallId, text }]);
  } else {
    messages.push({ role: 'user', text });
  }
}

function toolName(tool: JsonObject): string | undefined {
  const fn = isRecord(tool['function']) ? tool['function'] : isRecord(tool['custom']) ? tool['custom'] : {};
  return asString(fn['name']);
}

export function openaiToNeutral(body: JsonObject): NeutralRequest {
  const system: string[] = [];
  const messages: NeutralMessage[] = [];
  for (const message of asRecords(body['messages'])) addMessage(messages, system, message);
  return finishNeutral({
    provider: 'openai',
    body,
    model: asString(body['model']) ?? '',
    system: system.join('\n'),
    messages,
    tools: asRecords(body['tools']).flatMap((tool) => toolName(tool) ?? []),
  });
}

// ---------------------------------------------------------------- reply rendering

const FINISH_REASONS: Record<StopReason, string> = { end_turn: 'stop', tool_use: 'tool_calls', max_tokens: 'length' };

interface WireToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

function wireToolCalls(reply: ResolvedReply): WireToolCall[] {
  return reply.toolCalls.map((call) => ({
    id: call.id ?? randomId('call_'),
    type: 'function',
    function: { name: call.name, arguments: JSON.stringify(call.input) },
  }));
}

/** OpenAI's prompt_tokens includes cached tokens; `cached_tokens` is the cached subset. */
function wireUsage(reply: ResolvedReply): JsonObject {
  const { input, output, cacheRead, cacheWrite } = reply.usage;
  const prompt = input + cacheRead + cacheWrite;
  return {
    prompt_tokens: prompt,
    completion_tokens: output,
    total_tokens: prompt + output,
    prompt_tokens_details: { cached_tokens: cacheRead, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function envelope(model: string, object: string, id: string): JsonObject {
  return {
    id,
    object,
    created: Math.floor(Date.now() / 1000),
    model,
    service_tier: 'default',
    system_fingerprint: 'fp_fakellm01',
  };
}

function sendCompletion(res: ServerResponse, reply: ResolvedReply, ctx: RenderContext): void {
  const toolCalls = wireToolCalls(reply);
  const message = {
    role: 'assistant',
    content: reply.text ?? null,
    refusal: null,
    annotations: [],
    // The API omits `tool_calls` entirely when there are none.
    ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
  };
  const completion = {
    ...envelope(reply.model, 'chat.completion', randomId('chatcmpl-', 29)),
    choices: [{ index: 0, message, logprobs: null, finish_reason: FINISH_REASONS[reply.stopReason] }],
    usage: wireUsage(reply),
  };
  sendJson(res, 200, completion, { 'x-request-id': ctx.requestId });
}

function includeUsage(body: JsonObject): boolean {
  const options = body['stream_options'];
  return isRecord(options) && options['include_usage'] === true;
}

/** Builds chunks sharing one id/created; with include_usage every chunk carries `usage: null` until the last. */
function chunkFactory(reply: ResolvedReply, ctx: RenderContext): (choices: JsonObject[]) => JsonObject {
  const base = envelope(reply.model, 'chat.completion.chunk', randomId('chatcmpl-', 29));
  const usage = includeUsage(ctx.body) ? { usage: null } : {};
  return (choices) => ({ ...base, choices, ...usage });
}

function deltaChoice(delta: JsonObject, finishReason: string | null = null): JsonObject {
  return { index: 0, delta, logprobs: null, finish_reason: finishReason };
}

/** A tool call streams as: id + type + name with empty arguments, then argument fragments by index. */
function toolCallDeltas(call: WireToolCall, index: number): JsonObject[] {
  const head = { index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } };
  const fragments = splitEven(call.function.arguments, 3).map((args) => ({ index, function: { arguments: args } }));
  return [head, ...fragments].map((toolCall) => ({ tool_calls: [toolCall] }));
}

async function streamCompletion(res: ServerResponse, reply: ResolvedReply, ctx: RenderContext): Promise<void> {
  startSse(res, { 'x-request-id': ctx.requestId });
  const chunk = chunkFactory(reply, ctx);
  const deltas: JsonObject[] = [
    { role: 'assistant', content: reply.text === undefined ? null : '', refusal: null },
    ...wordChunks(reply.text ?? '').map((content) => ({ content })),
    ...wireToolCalls(reply).flatMap(toolCallDeltas),
  ];
  for (const [i, delta] of deltas.entries()) {
    if (i > 0) await pause(reply.chunkDelayMs, ctx.signal);
    writeSse(res, chunk([deltaChoice(delta)]));
  }
  writeSse(res, chunk([deltaChoice({}, FINISH_REASONS[reply.stopReason])]));
  // The usage chunk has no choices at all, which naive clients trip over.
  if (includeUsage(ctx.body)) writeSse(res, { ...chunk([]), usage: wireUsage(reply) });
  writeSse(res, '[DONE]');
  endResponse(res);
}

// ---------------------------------------------------------------- errors

interface ErrorSpec {
  status: number;
  type: string;
  code: string | null;
  message: (ctx: RenderContext) => string;
}

const ERRORS: Record<HttpErrorKind, ErrorSpec> = {
  rate_limit: {
    status: 429,
    type: 'requests',
    code: 'rate_limit_exceeded',
    message: () => 'Rate limit reached for requests. Please try again later.',
  },
  server_error: {
    status: 500,
    type: 'server_error',
    code: null,
    message: () => 'The server had an error while processing your request. Sorry about that!',
  },
  // OpenAI has no 529; an overloaded service answers 503.
  overloaded: {
    status: 503,
    type: 'server_error',
    code: null,
    message: () => 'The server is overloaded or not ready yet.',
  },
  auth: {
    status: 401,
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    message: () => 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
  },
  invalid_request: { status: 400, type: 'invalid_request_error', code: null, message: () => 'Invalid request' },
  not_found: {
    status: 404,
    type: 'invalid_request_error',
    code: null,
    message: (ctx) => `Invalid URL (${ctx.route})`,
  },
};

function errorPayload(spec: ErrorSpec, message: string): JsonObject {
  return { error: { message, type: spec.type, param: null, code: spec.code } };
}

function errorResponse(kind: HttpErrorKind, fault: Partial<FaultStep>, ctx: RenderContext): ErrorResponse {
  const spec = ERRORS[kind];
  const headers: Record<string, string> = { 'x-request-id': ctx.requestId };
  if (kind === 'rate_limit') headers['retry-after'] = String(fault.retryAfterSeconds ?? 1);
  return { status: spec.status, body: errorPayload(spec, fault.message ?? spec.message(ctx)), headers };
}

/** OpenAI reports a failure mid-stream as a data line holding `{ error }`, with no `[DONE]` after it. */
function streamError(res: ServerResponse, fault: FaultStep, ctx: RenderContext): void {
  startSse(res, { 'x-request-id': ctx.requestId });
  const model = asString(ctx.body['model']) ?? '';
  const base = envelope(model, 'chat.completion.chunk', randomId('chatcmpl-', 29));
  writeSse(res, { ...base, choices: [deltaChoice({ role: 'assistant', content: '', refusal: null })] });
  for (const content of wordChunks(fault.partialText ?? 'partial')) writeSse(res, { ...base, choices: [deltaChoice({ content })] });
  writeSse(res, errorPayload(ERRORS.server_error, fault.message ?? ERRORS.server_error.message(ctx)));
  endResponse(res);
}

/** Truncated JSON: a 200 whose body (or first SSE data line) cannot be parsed. */
function malformed(res: ServerResponse, stream: boolean, ctx: RenderContext): void {
  const broken = `{"id":"${randomId('chatcmpl-', 29)}","object":"chat.completion","choices":[`;
  if (!stream) {
    res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': ctx.requestId });
    res.end(broken);
    return;
  }
  startSse(res, { 'x-request-id': ctx.requestId });
  writeSse(res, broken);
  endResponse(res);
}

export const openaiAdapter: ProviderAdapter = {
  provider: 'openai',
  requestIdHeader: 'x-request-id',
  newRequestId: () => randomId('req_', 32),
  toNeutral: openaiToNeutral,
  reply: sendCompletion,
  stream: streamCompletion,
  streamError,
  malformed,
  error: errorResponse,
};
