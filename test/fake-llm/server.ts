/**
 * A local fake of the Anthropic and OpenAI HTTP APIs for integration tests and
 * benchmarks. The real SDKs talk to it through `baseURL`, so it speaks their wire
 * formats (JSON, SSE, error shapes, headers) rather than anything test-specific.
 *
 *   const fake = await startFakeLlm();
 *   new Anthropic({ apiKey: 'test', baseURL: fake.url });
 *   new OpenAI({ apiKey: 'test', baseURL: `${fake.url}/v1` });
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { anthropicAdapter, countTokensBody } from './anthropic.js';
import { embeddingsBody, isEmbeddingsBody } from './embeddings.js';
import { openaiAdapter } from './openai.js';
import type { ErrorResponse, HttpErrorKind, ProviderAdapter, RenderContext } from './provider.js';
import { resolveReply } from './provider.js';
import type { FaultStep, NeutralRequest, Provider, ScriptHandler, ScriptStep } from './script.js';
import { defaultHandler, isFault } from './script.js';
import type { JsonObject } from './util.js';
import { isGone, isRecord, sendJson, sleep } from './util.js';

export type * from './script.js';
export { isFault, defaultHandler, estimateTokens } from './script.js';
export { pseudoEmbedding, DEFAULT_DIMENSIONS } from './embeddings.js';

export interface RecordedRequest {
  provider: Provider;
  method: string;
  /** URL path without the query string, e.g. `/v1/messages`. */
  path: string;
  /** Raw query string including `?` (the beta Anthropic client adds `?beta=true`), or ''. */
  query: string;
  /** Lower-cased header names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  /** Parsed JSON body, or the raw text when it was not JSON. */
  body: unknown;
  /** `Date.now()` when the body had been received. */
  time: number;
  /** The scripting view of a chat request (absent for embeddings and other routes). */
  neutral?: NeutralRequest;
}

export interface FakeLlm {
  /** `http://127.0.0.1:PORT`: the Anthropic baseURL; OpenAI's is `${url}/v1`. */
  readonly url: string;
  /** Every request received, in arrival order (cleared in place by `reset()`). */
  readonly requests: RecordedRequest[];
  /** Sets the responder used when the queue is empty. */
  script(handler: ScriptHandler): void;
  /** Queues canned responses, consumed first-in first-out before the handler. */
  enqueue(...steps: ScriptStep[]): void;
  /** Forgets requests, queue and handler (back to replying `ok`). */
  reset(): void;
  /** Stops listening and drops every connection, including held `timeout` ones. */
  close(): Promise<void>;
}

export interface StartFakeLlmOptions {
  /** 0 (default) picks a free port. */
  port?: number;
}

export async function startFakeLlm(opts: StartFakeLlmOptions = {}): Promise<FakeLlm> {
  const fake = new FakeLlmServer();
  await fake.listen(opts.port ?? 0);
  return fake;
}

/** One request in flight: what every route needs to answer it. */
interface Exchange {
  res: ServerResponse;
  record: RecordedRequest;
  adapter: ProviderAdapter;
  ctx: RenderContext;
  /** Aborts when the client disconnects or the server closes, cutting delays short. */
  signal: AbortSignal;
}

const ROUTES: Record<string, (fake: FakeLlmServer, ex: Exchange, body: JsonObject) => Promise<void> | void> = {
  'POST /v1/messages': (fake, ex, body) => fake.chat(ex, body),
  'POST /v1/chat/completions': (fake, ex, body) => fake.chat(ex, body),
  'POST /v1/messages/count_tokens': (_fake, ex, body) => sendJson(ex.res, 200, countTokensBody(body), idHeader(ex)),
  'POST /v1/embeddings': (_fake, ex, body) => embeddings(ex, body),
};

class FakeLlmServer implements FakeLlm {
  readonly requests: RecordedRequest[] = [];
  url = '';
  #handler: ScriptHandler = defaultHandler;
  readonly #queue: ScriptStep[] = [];
  readonly #closing = new AbortController();
  readonly #server: Server = createServer((req, res) => void this.#handle(req, res));

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        const { port: actual } = this.#server.address() as AddressInfo;
        this.url = `http://127.0.0.1:${actual}`;
        resolve();
      });
    });
  }

  script(handler: ScriptHandler): void {
    this.#handler = handler;
  }

  enqueue(...steps: ScriptStep[]): void {
    this.#queue.push(...steps);
  }

  reset(): void {
    this.requests.length = 0;
    this.#queue.length = 0;
    this.#handler = defaultHandler;
  }

  close(): Promise<void> {
    this.#closing.abort();
    return new Promise((resolve) => {
      // Resolves even when already closed: closing twice is not a test failure.
      this.#server.close(() => resolve());
      // Held (`timeout`) and keep-alive sockets would otherwise keep `close` waiting.
      this.#server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A client that disconnects mid-response makes writes fail; there is nobody left to tell.
    res.on('error', () => undefined);
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const signal = AbortSignal.any([gone.signal, this.#closing.signal]);
    const text = await readBody(req);
    if (text === undefined) return;
    const ex = this.#exchange(req, res, text, signal);
    this.requests.push(ex.record);
    try {
      await this.#route(req.method ?? 'GET', ex);
    } catch (error) {
      const message = `fake-llm: ${error instanceof Error ? error.message : String(error)}`;
      sendError(res, ex.adapter.error('server_error', { message }, ex.ctx));
    }
  }

  #exchange(req: IncomingMessage, res: ServerResponse, text: string, signal: AbortSignal): Exchange {
    const url = new URL(req.url ?? '/', 'http://fake-llm');
    const headers = flattenHeaders(req.headers);
    const adapter = adapterFor(url.pathname, headers);
    const method = req.method ?? 'GET';
    const record: RecordedRequest = {
      provider: adapter.provider,
      method,
      path: url.pathname,
      query: url.search,
      headers,
      body: parseBody(text),
      time: Date.now(),
    };
    const body = isRecord(record.body) ? record.body : {};
    const ctx: RenderContext = { requestId: adapter.newRequestId(), body, route: `${method} ${url.pathname}`, signal };
    return { res, record, adapter, ctx, signal };
  }

  async #route(method: string, ex: Exchange): Promise<void> {
    const route = ROUTES[`${method} ${ex.record.path}`];
    if (route === undefined) {
      sendError(ex.res, ex.adapter.error('not_found', {}, ex.ctx));
      return;
    }
    if (!isRecord(ex.record.body)) {
      const message = 'The request body is not a valid JSON object.';
      sendError(ex.res, ex.adapter.error('invalid_request', { message }, ex.ctx));
      return;
    }
    await route(this, ex, ex.record.body);
  }

  /** Chat turn for either provider: neutralise, pick the next step, render it. */
  async chat(ex: Exchange, body: JsonObject): Promise<void> {
    const neutral = ex.adapter.toNeutral(body);
    ex.record.neutral = neutral;
    const step = this.#queue.shift() ?? (await this.#handler(neutral));
    if (isFault(step)) {
      sendFault(ex, step, neutral.stream);
      return;
    }
    await sleep(step.delayMs ?? 0, ex.signal);
    if (ex.signal.aborted) return;
    const reply = resolveReply(step, neutral);
    if (neutral.stream) await ex.adapter.stream(ex.res, reply, ex.ctx);
    else ex.adapter.reply(ex.res, reply, ex.ctx);
  }
}

function sendFault(ex: Exchange, fault: FaultStep, stream: boolean): void {
  switch (fault.fault) {
    case 'timeout':
      // Deliberately never answer; `close()` or the client's own timeout ends the socket.
      return;
    case 'malformed':
      ex.adapter.malformed(ex.res, stream, ex.ctx);
      return;
    case 'stream_error':
      if (stream) ex.adapter.streamError(ex.res, fault, ex.ctx);
      else cutBody(ex);
      return;
    default:
      sendError(ex.res, ex.adapter.error(fault.fault satisfies HttpErrorKind, fault, ex.ctx));
  }
}

/** Non-stream `stream_error`: headers and half a body, then a reset connection. */
function cutBody(ex: Exchange): void {
  if (isGone(ex.res)) return;
  ex.res.writeHead(200, { 'content-type': 'application/json', ...idHeader(ex) });
  // Destroy only after the partial body is flushed, so the client sees a truncated body rather than no response.
  ex.res.write('{"id":"', () => ex.res.destroy());
}

function embeddings(ex: Exchange, body: JsonObject): void {
  if (!isEmbeddingsBody(body)) {
    sendError(ex.res, ex.adapter.error('invalid_request', { message: "'input' is a required property" }, ex.ctx));
    return;
  }
  sendJson(ex.res, 200, embeddingsBody(body), idHeader(ex));
}

function sendError(res: ServerResponse, error: ErrorResponse): void {
  sendJson(res, error.status, error.body, error.headers);
}

function idHeader(ex: Exchange): Record<string, string> {
  return { [ex.adapter.requestIdHeader]: ex.ctx.requestId };
}

/** Anthropic paths, or Anthropic headers on an unknown path; everything else is answered as OpenAI. */
function adapterFor(path: string, headers: Record<string, string>): ProviderAdapter {
  const anthropic =
    path === '/v1/messages' ||
    path.startsWith('/v1/messages/') ||
    (!path.startsWith('/v1/chat/') && ('anthropic-version' in headers || 'x-api-key' in headers));
  return anthropic ? anthropicAdapter : openaiAdapter;
}

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed;
  } catch {
    return text;
  }
}

/** The whole body as text, or undefined when the client went away before sending it. */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  } catch {
    return undefined;
  }
  return Buffer.concat(chunks).toString('utf8');
}
