import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';
import { FetchFailedError, UrlRefusedError } from './errors.js';
import { FORWARDER_SOURCE } from './forwarder-source.js';
import { pinnedLookup } from './guarded-fetch.js';
import { checkDestination, checkUrl, type CheckedDestination, type GuardPolicy } from './url-guard.js';

/**
 * The workers' only way out when `[tools] network = "guarded"`: an HTTP forward proxy (CONNECT for
 * https and any TCP, absolute-form for plain http) on a Unix socket that is bound into each sandbox
 * (lib/net/sandbox-egress.ts). Every destination goes through the URL guard after DNS resolution,
 * and the proxy connects to the address it checked, so a sandboxed program can reach public hosts
 * and whatever `[network] allow` lists, never the host's loopback (database, Temporal, the API), the
 * private network or a metadata endpoint. Redirects need no special care: the client follows them
 * through the proxy, so each hop is checked again.
 */

export interface EgressProxyOptions {
  policy: GuardPolicy;
  logger: Logger;
  /** Parent of the proxy's private directory (socket + forwarder); default the OS temp dir (short paths: sockets allow ~100 bytes). */
  parentDir?: string;
  /** Open connections at once, over all sandboxes of this worker. */
  maxConnections?: number;
  /** A tunnel or request idle this long is closed. */
  idleTimeoutMs?: number;
}

/** Request headers that belong to the hop to the proxy, not to the destination. */
const HOP_BY_HOP = ['connection', 'proxy-connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'upgrade'];

export class EgressProxy {
  private readonly sockets = new Set<Socket | Duplex>();

  private constructor(
    private readonly server: http.Server,
    private readonly dir: string,
    /** The Unix socket the proxy listens on (mode 0600, in a 0700 directory). */
    readonly socketPath: string,
    /** The sandbox-side forwarder, a standalone ES module (lib/net/forwarder-source.ts). */
    readonly forwarderPath: string,
  ) {}

  static async start(options: EgressProxyOptions): Promise<EgressProxy> {
    const dir = mkdtempSync(path.join(options.parentDir ?? os.tmpdir(), 'spacebot-egress-'));
    chmodSync(dir, 0o700);
    const socketPath = path.join(dir, 'egress.sock');
    const forwarderPath = path.join(dir, 'forwarder.mjs');
    writeFileSync(forwarderPath, FORWARDER_SOURCE, { mode: 0o644 });
    const server = http.createServer();
    const proxy = new EgressProxy(server, dir, socketPath, forwarderPath);
    server.maxConnections = options.maxConnections ?? 128;
    server.on('connection', (socket: Socket) => proxy.track(socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void proxy.forward(req, res, options));
    server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => void proxy.tunnel(req, socket, head, options));
    server.on('clientError', (_err, socket: Duplex) => socket.destroy());
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => resolve());
      });
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    chmodSync(socketPath, 0o600);
    options.logger.info({ socket: socketPath }, 'egress proxy for sandboxed workers listening');
    return proxy;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private track(socket: Socket | Duplex): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  /** CONNECT host:port: checked, then a raw tunnel to the checked address. */
  private async tunnel(req: IncomingMessage, client: Duplex, head: Buffer, options: EgressProxyOptions): Promise<void> {
    client.on('error', () => client.destroy());
    const target = parseAuthority(req.url ?? '');
    let checked: CheckedDestination;
    try {
      if (!target) throw new UrlRefusedError('CONNECT needs host:port');
      checked = await checkDestination(target.host, target.port, options.policy);
    } catch (err) {
      this.refuse(client, err, req.url ?? '', options.logger);
      return;
    }
    const upstream = net.connect({ host: checked.hostname, port: checked.port, lookup: pinnedLookup(checked.addresses) });
    this.track(upstream);
    const idle = options.idleTimeoutMs ?? 300_000;
    upstream.setTimeout(idle, () => upstream.destroy());
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    upstream.once('error', (err: NodeJS.ErrnoException) => {
      options.logger.info({ destination: req.url, code: err.code }, 'egress: connection failed');
      if (!client.destroyed) rawAnswer(client, 502, `failed: could not reach ${checked.hostname}:${checked.port}`);
    });
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
  }

  /** Absolute-form `GET http://host/path`: checked, then forwarded to the checked address. */
  private async forward(req: IncomingMessage, res: ServerResponse, options: EgressProxyOptions): Promise<void> {
    let checked;
    try {
      if (!/^http:\/\//i.test(req.url ?? '')) throw new UrlRefusedError('this proxy takes absolute http:// URLs (https goes through CONNECT)');
      // The program inside may carry its own credentials in the URL; the check is about the destination.
      checked = await checkUrl(req.url ?? '', { ...options.policy, allowCredentials: true });
    } catch (err) {
      req.resume();
      const { status, message } = answerFor(err);
      options.logger.info({ destination: safeUrl(req.url), reason: message }, 'egress: request refused');
      res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' }).end(`${message}\n`);
      return;
    }
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.includes(name) && value !== undefined) headers[name] = value;
    const upstream = http.request({
      hostname: checked.hostname,
      port: checked.port,
      path: `${checked.url.pathname}${checked.url.search}`,
      method: req.method,
      headers,
      agent: false,
      lookup: pinnedLookup(checked.addresses),
      timeout: options.idleTimeoutMs ?? 300_000,
    });
    upstream.on('timeout', () => upstream.destroy(new Error('idle timeout')));
    upstream.on('response', (answer) => {
      const out: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(answer.headers)) if (!HOP_BY_HOP.includes(name) && value !== undefined) out[name] = value;
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      options.logger.info({ destination: safeUrl(req.url), code: err.code }, 'egress: request failed');
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' }).end(`failed: could not reach ${checked.url.host}\n`);
      else res.destroy();
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  }

  private refuse(client: Duplex, err: unknown, destination: string, logger: Logger): void {
    const { status, message } = answerFor(err);
    logger.info({ destination, reason: message }, 'egress: connection refused');
    rawAnswer(client, status, message);
  }
}

function answerFor(err: unknown): { status: number; message: string } {
  if (err instanceof UrlRefusedError) return { status: 403, message: err.message };
  if (err instanceof FetchFailedError) return { status: 502, message: err.message };
  return { status: 502, message: 'failed: internal error of the egress proxy' };
}

/** An answer on a socket that is not (or no longer) an http.ServerResponse: CONNECT refusals. */
function rawAnswer(socket: Duplex, status: number, message: string): void {
  const body = `${message}\n`;
  const reason = status === 403 ? 'Forbidden' : 'Bad Gateway';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** "host:port" or "[v6]:port" of a CONNECT request. */
export function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/\s]+):(\d{1,5})$/.exec(authority);
  if (!match) return undefined;
  return { host: match[1]!, port: Number(match[2]) };
}

/** For logs: without credentials or query. */
function safeUrl(raw: string | undefined): string {
  try {
    const url = new URL(raw ?? '');
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return String(raw ?? '').slice(0, 200);
  }
}
