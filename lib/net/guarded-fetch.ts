import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { FetchFailedError, UrlRefusedError } from './errors.js';
import { checkUrl, type CheckedUrl, type GuardPolicy, type ResolvedAddress } from './url-guard.js';

/**
 * THE way the server fetches a URL on someone else's behalf (heartbeat webhooks; web tools and MCP
 * HTTP servers later). Every hop is checked by the URL guard, the connection goes to the address
 * that was checked (node:http's `lookup` hook answers with it, so no second DNS lookup can be
 * rebound to 127.0.0.1), redirects are followed by hand (each one re-checked, at most 3), and the
 * time and response size are capped. node:http rather than fetch: fetch resolves names itself and
 * follows redirects unchecked unless given undici's Agent, which Node 20 does not expose.
 */

export const MAX_REDIRECTS = 3;
export const DEFAULT_FETCH_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 1_048_576;

export interface GuardedFetchOptions {
  policy: GuardPolicy;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** 0 to 3 (default 3); more is refused. */
  maxRedirects?: number;
  /** For the whole exchange, redirects included. */
  timeoutMs?: number;
  maxResponseBytes?: number;
  signal?: AbortSignal;
}

export interface GuardedResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The URL that answered, after redirects. */
  url: string;
  body: Buffer;
  redirects: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Dropped when a redirect leaves the origin: they belong to the first site. */
const ORIGIN_BOUND_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

/** A `lookup` for node:net that only ever answers with the checked addresses. */
export function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return ((_hostname: string, options: { all?: boolean; family?: number }, callback: (...args: unknown[]) => void) => {
    const usable = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
    if (usable.length === 0) {
      callback(Object.assign(new Error('no checked address of the requested family'), { code: 'ENOTFOUND' }));
      return;
    }
    if (options.all) callback(null, usable);
    else callback(null, usable[0]!.address, usable[0]!.family);
  }) as LookupFunction;
}

export async function guardedFetch(input: string | URL, options: GuardedFetchOptions): Promise<GuardedResponse> {
  const maxRedirects = options.maxRedirects ?? MAX_REDIRECTS;
  if (maxRedirects < 0 || maxRedirects > MAX_REDIRECTS) throw new RangeError(`maxRedirects must be 0-${MAX_REDIRECTS}`);
  const timeoutMs = options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  // Our own timer rather than AbortSignal.timeout, to tell a timeout from the caller's cancellation.
  const controller = new AbortController();
  const deadline = { timedOut: false };
  const timer = setTimeout(() => {
    deadline.timedOut = true;
    controller.abort();
  }, timeoutMs);
  const signal = options.signal ? AbortSignal.any([controller.signal, options.signal]) : controller.signal;
  try {
    return await follow(input, options, maxRedirects, { signal, timeoutMs, deadline });
  } finally {
    clearTimeout(timer);
  }
}

interface Deadline {
  signal: AbortSignal;
  timeoutMs: number;
  deadline: { timedOut: boolean };
}

async function follow(input: string | URL, options: GuardedFetchOptions, maxRedirects: number, limits: Deadline): Promise<GuardedResponse> {
  let method = (options.method ?? 'GET').toUpperCase();
  let headers: Record<string, string> = Object.fromEntries(Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  let body = options.body;
  let current = await withinDeadline(checkUrl(input, options.policy), limits);
  for (let redirects = 0; ; redirects++) {
    const res = await exchange(current, { method, headers, body, ...limits, maxBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES });
    const location = res.headers.location;
    if (!REDIRECTS.has(res.status) || !location) return { ...res, url: current.url.href, redirects };
    if (redirects >= maxRedirects) throw new FetchFailedError(`more than ${maxRedirects} redirects`);
    let next: URL;
    try {
      next = new URL(location, current.url);
    } catch {
      throw new UrlRefusedError('a redirect to an invalid URL');
    }
    if (next.origin !== current.url.origin) for (const h of ORIGIN_BOUND_HEADERS) delete headers[h];
    // As browsers do: 303 always, and 301/302 after a POST, continue as a GET without the body.
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
      if (method !== 'HEAD') method = 'GET';
      body = undefined;
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'content-type' && k !== 'content-length'));
    }
    current = await withinDeadline(checkUrl(next, options.policy), limits);
  }
}

/** DNS lookups cannot be aborted: a hanging resolver is raced against the deadline instead. */
function withinDeadline<T>(work: Promise<T>, limits: Deadline): Promise<T> {
  if (limits.signal.aborted) return Promise.reject(new FetchFailedError(limits.deadline.timedOut ? `no answer within ${limits.timeoutMs} ms` : 'cancelled'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new FetchFailedError(limits.deadline.timedOut ? `no answer within ${limits.timeoutMs} ms` : 'cancelled'));
    limits.signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => limits.signal.removeEventListener('abort', onAbort));
  });
}

interface Exchange extends Deadline {
  method: string;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
  maxBytes: number;
}

/** One request to the checked address; the response body read up to the cap. */
function exchange(target: CheckedUrl, ex: Exchange): Promise<Omit<GuardedResponse, 'url' | 'redirects'>> {
  const { url } = target;
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (reason: string, detail?: string) => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(new FetchFailedError(reason, detail));
    };
    const aborted = () => fail(ex.deadline.timedOut ? `no answer within ${ex.timeoutMs} ms` : 'cancelled');
    const req = client.request(
      {
        protocol: url.protocol,
        hostname: target.hostname,
        port: target.port,
        path: `${url.pathname}${url.search}`,
        method: ex.method,
        headers: ex.headers,
        // A fresh connection each time: a pooled socket was opened for an earlier check.
        agent: false,
        lookup: pinnedLookup(target.addresses),
        signal: ex.signal,
      },
      (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (REDIRECTS.has(status) && res.headers.location) {
          res.resume();
          settled = true;
          resolve({ status, headers: res.headers, body: Buffer.alloc(0) });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > ex.maxBytes) fail(`the response from ${target.hostname} is larger than ${ex.maxBytes} bytes`);
          else chunks.push(chunk);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          resolve({ status, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', () => (ex.signal.aborted ? aborted() : fail(`the connection to ${target.hostname} broke`)));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (ex.signal.aborted) aborted();
      // The same words for a closed port, a reset and a TLS error: the difference is a port scanner's oracle.
      else fail(`could not reach ${target.hostname}:${target.port}`, err.code ?? err.message);
    });
    if (ex.body !== undefined) req.end(ex.body);
    else req.end();
  });
}
