/** Small helpers shared by the provider renderers: narrowing, ids, chunking, HTTP writing. */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';

export type JsonObject = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function asRecords(value: unknown): JsonObject[] {
  return asArray(value).filter(isRecord);
}

const ALPHANUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Ids shaped like the real ones (`msg_01...`, `call_...`), in case code under test checks prefixes. */
export function randomId(prefix: string, length = 24): string {
  const bytes = randomBytes(length);
  let id = '';
  for (const byte of bytes) id += ALPHANUM[byte % ALPHANUM.length];
  return prefix + id;
}

/** Parses JSON that came off the wire; tool arguments may be anything, so fall back to `{}`. */
export function parseJsonObject(text: string): JsonObject {
  try {
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

/**
 * Splits text into word-sized deltas (whitespace kept), so streamed text arrives in
 * several pieces like a real model's output and the client has to reassemble it.
 */
export function wordChunks(text: string): string[] {
  return text.match(/\s*\S+\s*|\s+/g) ?? [];
}

/** Splits a string into at most `count` pieces of similar size, never inside a code point. */
export function splitEven(text: string, count: number): string[] {
  const chars = Array.from(text);
  const size = Math.max(1, Math.ceil(chars.length / count));
  const pieces: string[] = [];
  for (let i = 0; i < chars.length; i += size) pieces.push(chars.slice(i, i + size).join(''));
  return pieces;
}

/** Resolves after `ms`, or early when `signal` aborts, so pending delays never keep the process alive. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** True once the client went away; writing then would only raise ERR_STREAM_DESTROYED. */
export function isGone(res: ServerResponse): boolean {
  return res.destroyed || res.writableEnded;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (isGone(res)) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(payload)),
  });
  res.end(payload);
}

/** Opens a Server-Sent Events response with the headers both APIs send. */
export function startSse(res: ServerResponse, headers: Record<string, string>): void {
  if (isGone(res)) return;
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
}

/**
 * Writes one SSE event. Anthropic names every event (`event:` line) and the SDK drops
 * unnamed ones; OpenAI sends bare `data:` lines, so `event` is optional.
 */
export function writeSse(res: ServerResponse, data: unknown, event?: string): void {
  if (isGone(res)) return;
  const payload = typeof data === 'string' ? data : JSON.stringify(data);
  res.write(`${event === undefined ? '' : `event: ${event}\n`}data: ${payload}\n\n`);
}

/** The pause a streamed reply asks for between deltas; none when the request is gone. */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return signal ? sleep(ms, signal) : sleep(ms, new AbortController().signal);
}

export function endResponse(res: ServerResponse): void {
  if (!isGone(res)) res.end();
}
