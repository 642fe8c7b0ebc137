/**
 * The contract between the server (routing, recording, scripting) and the two wire
 * formats. Each provider module turns a request body into a NeutralRequest and renders
 * a resolved reply or an error in its own format.
 */
import type { ServerResponse } from 'node:http';
import type {
  FaultStep,
  NeutralMessage,
  NeutralRequest,
  Provider,
  ReplyStep,
  ScriptToolCall,
  ScriptUsage,
  StopReason,
} from './script.js';
import { estimateTokens } from './script.js';
import type { JsonObject } from './util.js';

/** A reply step with every default filled in, ready to render. */
export interface ResolvedReply {
  model: string;
  /** `undefined` means "no text block/content", as opposed to an empty one. */
  text: string | undefined;
  toolCalls: ScriptToolCall[];
  stopReason: StopReason;
  usage: Required<ScriptUsage>;
  /** Pause before each streamed content delta (0: none). */
  chunkDelayMs: number;
}

/** Faults answered with an HTTP error status; `not_found` covers unknown routes. */
export type HttpErrorKind = 'rate_limit' | 'server_error' | 'overloaded' | 'auth' | 'invalid_request' | 'not_found';

export interface ErrorResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

export interface ProviderAdapter {
  provider: Provider;
  /** Header carrying the request id: `request-id` (Anthropic) vs `x-request-id` (OpenAI). */
  requestIdHeader: string;
  newRequestId(): string;
  toNeutral(body: JsonObject): NeutralRequest;
  reply(res: ServerResponse, reply: ResolvedReply, ctx: RenderContext): void;
  stream(res: ServerResponse, reply: ResolvedReply, ctx: RenderContext): void | Promise<void>;
  streamError(res: ServerResponse, fault: FaultStep, ctx: RenderContext): void;
  malformed(res: ServerResponse, stream: boolean, ctx: RenderContext): void;
  error(kind: HttpErrorKind, fault: Partial<FaultStep>, ctx: RenderContext): ErrorResponse;
}

export interface RenderContext {
  requestId: string;
  /** The parsed request body (e.g. for OpenAI's `stream_options.include_usage`). */
  body: JsonObject;
  /** Method and path, for error messages that quote the URL. */
  route: string;
  /** Aborts when the client went away or the server closes: streamed pauses end early. */
  signal?: AbortSignal;
}

export function defaultStopReason(step: ReplyStep): StopReason {
  return step.toolCalls !== undefined && step.toolCalls.length > 0 ? 'tool_use' : 'end_turn';
}

/** Fills usage from rough counts when the script did not pin it. */
export function resolveReply(step: ReplyStep, req: NeutralRequest): ResolvedReply {
  const toolCalls = step.toolCalls ?? [];
  const outputChars = (step.text ?? '') + toolCalls.map((call) => call.name + JSON.stringify(call.input)).join('');
  return {
    model: req.model,
    text: step.text === undefined && toolCalls.length > 0 ? undefined : (step.text ?? ''),
    toolCalls,
    stopReason: step.stopReason ?? defaultStopReason(step),
    chunkDelayMs: step.chunkDelayMs ?? 0,
    usage: {
      input: step.usage?.input ?? req.estimatedInputTokens,
      // A real model never reports zero output tokens, even for an empty reply.
      output: step.usage?.output ?? Math.max(1, estimateTokens(outputChars)),
      cacheRead: step.usage?.cacheRead ?? 0,
      cacheWrite: step.usage?.cacheWrite ?? 0,
    },
  };
}

/** Shared tail of both `toNeutral`s: derived fields are computed the same way for both providers. */
export function finishNeutral(parts: {
  provider: Provider;
  body: JsonObject;
  model: string;
  system: string;
  messages: NeutralMessage[];
  tools: string[];
}): NeutralRequest {
  const lastUser = [...parts.messages].reverse().find((message) => message.role === 'user');
  return {
    ...parts,
    stream: parts.body['stream'] === true,
    lastUserText: lastUser?.text ?? '',
    estimatedInputTokens: estimateTokens(inputText(parts.system, parts.messages, parts.body['tools'])),
  };
}

function inputText(system: string, messages: NeutralMessage[], tools: unknown): string {
  const turns = messages.map((message) =>
    [
      message.text,
      ...(message.toolCalls ?? []).map((call) => call.name + JSON.stringify(call.input)),
      ...(message.toolResults ?? []).map((result) => result.text),
    ].join(''),
  );
  // Tool definitions cost real input tokens too, so count their JSON.
  return system + turns.join('') + (tools === undefined ? '' : JSON.stringify(tools));
}

/** Groups consecutive tool results into one `tool` turn, so both providers yield the same shape. */
export function pushToolResults(messages: NeutralMessage[], results: NeutralMessage['toolResults']): void {
  if (results === undefined || results.length === 0) return;
  const last = messages.at(-1);
  if (last?.role === 'tool' && last.toolResults !== undefined) {
    last.toolResults.push(...results);
    last.text = last.toolResults.map((result) => result.text).join('\n');
    return;
  }
  messages.push({ role: 'tool', text: results.map((result) => result.text).join('\n'), toolResults: [...results] });
}
