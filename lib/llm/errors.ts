/**
 * Classifies provider failures so Temporal's retry policy, not the SDKs, decides what happens next:
 * auth and invalid requests fail for good; rate limits carry the server's retry-after; everything
 * transient is retried.
 */

export type LlmErrorKind = 'auth' | 'invalid_request' | 'rate_limit' | 'overloaded' | 'server' | 'timeout' | 'connection' | 'malformed' | 'not_configured';

export class LlmError extends Error {
  override name = 'LlmError';
  constructor(
    readonly kind: LlmErrorKind,
    message: string,
    readonly status?: number,
    /** Milliseconds the provider asked us to wait (retry-after), when it said. */
    readonly retryAfterMs?: number,
  ) {
    // Scrubbed here too, so no LlmError (logged, shown or sent to Temporal) ever carries a key.
    super(scrubSecrets(message));
  }

  get retryable(): boolean {
    return !(this.kind === 'auth' || this.kind === 'invalid_request' || this.kind === 'not_configured');
  }
}

/** Parses `retry-after` (seconds or HTTP date) and `retry-after-ms` headers. */
export function parseRetryAfter(headers: Headers | Record<string, string | null | undefined> | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const get = (name: string): string | null | undefined =>
    headers instanceof Headers ? headers.get(name) : (headers[name] ?? headers[name.toLowerCase()]);
  const ms = Number(get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const raw = get('retry-after');
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Maps an HTTP status to a kind; both SDKs expose `status` on their APIError. */
export function kindForStatus(status: number | undefined): LlmErrorKind {
  if (status === 401 || status === 403) return 'auth';
  if (status === 400 || status === 404 || status === 413 || status === 422) return 'invalid_request';
  if (status === 402) return 'auth';
  if (status === 429) return 'rate_limit';
  if (status === 529 || status === 503) return 'overloaded';
  if (status === 408) return 'timeout';
  return 'server';
}

interface ApiErrorLike {
  status?: number;
  headers?: Headers | Record<string, string>;
  message?: string;
  name?: string;
  /** The parsed error body both SDKs attach: Anthropic `{error:{type,message}}`, OpenAI `{message,type}`. */
  error?: unknown;
}

/** "rate_limit_error: slow down" from either provider's error body, else undefined. */
function describeErrorBody(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const record = body as Record<string, unknown>;
  const inner = record.error && typeof record.error === 'object' ? (record.error as Record<string, unknown>) : record;
  const message = typeof inner.message === 'string' ? inner.message : undefined;
  const type = typeof inner.type === 'string' ? inner.type : typeof inner.code === 'string' ? inner.code : undefined;
  if (!message) return undefined;
  return type ? `${type}: ${message}` : message;
}

/** Turns whatever an SDK threw into an LlmError with a message safe to show and log. */
export function toLlmError(err: unknown, provider: string): LlmError {
  if (err instanceof LlmError) return err;
  if (err instanceof Error && err.name === 'LlmError') return err as LlmError;
  const e = (err ?? {}) as ApiErrorLike;
  const message = scrubSecrets(e.message ?? String(err));
  if (typeof e.status === 'number') {
    const detail = scrubSecrets(describeErrorBody(e.error) ?? message);
    return new LlmError(kindForStatus(e.status), `${provider} returned ${e.status} (${detail})`, e.status, parseRetryAfter(e.headers));
  }
  if (e.name === 'APIConnectionTimeoutError' || /timed? ?out/i.test(message)) return new LlmError('timeout', `${provider}: request timed out`);
  if (e.name === 'APIConnectionError' || /ECONNREFUSED|ECONNRESET|fetch failed|socket/i.test(message)) {
    return new LlmError('connection', `${provider}: cannot connect (${message})`);
  }
  if (err instanceof SyntaxError) return new LlmError('malformed', `${provider}: malformed response (${message})`);
  return new LlmError('server', `${provider}: ${message}`);
}

/** Literal secret values (the configured API keys) scrubbed from every message, whatever their shape. */
const knownSecrets = new Set<string>();

/** Adds a value to scrub literally; short values are ignored so ordinary words are never redacted. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 8) knownSecrets.add(value);
}

/** Removes things that look like API keys or bearer tokens, and every registered key, from text we log or show users. */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const secret of knownSecrets) if (out.includes(secret)) out = out.split(secret).join('[redacted]');
  return out
    .replace(/\b(sk|pk|rk)-[A-Za-z0-9_-]{8,}/g, '$1-[redacted]')
    .replace(/\b(gsk|xai|AIza)[-_]?[A-Za-z0-9_-]{16,}/g, '$1-[redacted]')
    .replace(/\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/gi, 'Bearer [redacted]')
    .replace(/\b(api[_-]?key|x-api-key|token)(["'\s:=]+)[A-Za-z0-9._~+/=-]{8,}/gi, '$1$2[redacted]');
}

/**
 * Whether the next model of a fallback chain should be tried: rate limits, overload, server errors,
 * timeouts, connection errors and malformed responses. Auth, billing and invalid requests are not
 * the model's fault in a way another model would fix, so they fail the call at once.
 */
export function fallsBack(err: LlmError): boolean {
  return err.retryable;
}

/** A short sentence for the user when a turn cannot be answered. */
export function userFacingMessage(err: LlmError): string {
  switch (err.kind) {
    case 'auth':
      return `Sorry, I can't answer right now: the language model provider rejected our credentials (${err.message}). An operator needs to fix the API key.`;
    case 'invalid_request':
      return `Sorry, I can't answer that: the language model provider refused the request (${err.message}).`;
    case 'not_configured':
      return `Sorry, I can't answer yet: ${err.message}`;
    default:
      return `Sorry, I can't answer right now: the language model provider kept failing (${err.message}). Please try again later.`;
  }
}
