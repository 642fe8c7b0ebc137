/**
 * A local fake of Slack for adapter tests: the Web API (`POST /api/<method>`, form-encoded or JSON,
 * bearer token, `ok: false` errors, 429 + Retry-After) and Socket Mode (`apps.connections.open` hands
 * out a ws:// URL to this server; the socket sends `hello`, `events_api` envelopes that the client
 * must ack by envelope_id, `disconnect` refresh requests). Unacknowledged envelopes are redelivered
 * on the next connection with `retry_attempt` raised, as Slack does. The real @slack/bolt,
 * @slack/socket-mode and @slack/web-api clients talk to it through `slackApiUrl`.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface FakeSlackOptions {
  botToken?: string;
  appToken?: string;
  teamId?: string;
  botUserId?: string;
  botId?: string;
  appId?: string;
}

export interface FakeSlackCall {
  method: string;
  /** The bearer token (or `token` field) the call carried. */
  token: string | undefined;
  params: Record<string, unknown>;
  /** Lower-cased request headers. */
  headers: Record<string, string>;
}

export interface FakeSlackPost {
  channel: string;
  ts: string;
  threadTs?: string;
  text: string;
  /** Texts set by chat.update, in order. */
  edits: string[];
}

export interface FakeSlackReaction {
  channel: string;
  timestamp: string;
  name: string;
}

export interface FakeMessageInput {
  channel: string;
  text: string;
  user?: string;
  /** Defaults to "channel" ("im" for D… channels). */
  channelType?: 'channel' | 'group' | 'im' | 'mpim';
  threadTs?: string;
  subtype?: string;
  botId?: string;
  teamId?: string;
  /** Sent as `app_mention` instead of `message`. */
  type?: 'message' | 'app_mention';
  parentUserId?: string;
  /** The message's ts; a fresh one by default (give the same ts to model Slack's duplicate events). */
  ts?: string;
}

interface Envelope {
  envelope_id: string;
  type: 'events_api';
  accepts_response_payload: boolean;
  retry_attempt: number;
  retry_reason: string;
  payload: Record<string, unknown>;
}

export interface FakeSlack {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** The Web API base URL to give the client (`slackApiUrl`). */
  readonly apiUrl: string;
  readonly botToken: string;
  readonly appToken: string;
  readonly teamId: string;
  readonly botUserId: string;
  readonly botId: string;
  /** Every Web API call, in arrival order. */
  readonly calls: FakeSlackCall[];
  /** Messages the app posted, with their edits. */
  readonly posts: FakeSlackPost[];
  readonly reactions: FakeSlackReaction[];
  /** Envelope ids the client acknowledged, with how many acks each got. */
  readonly acks: Map<string, number>;
  /** Sockets opened so far (each got a hello). */
  readonly connectionCount: number;
  /** After `skip` more successful calls, the next `times` calls of `method` answer 429 with this Retry-After (seconds). */
  rateLimit(method: string, retryAfterSeconds: number, times?: number, skip?: number): void;
  /** The next call of `method` answers `{ ok: false, error }`. */
  failNext(method: string, error: string): void;
  /** A user message as an Events API envelope over Socket Mode (queued until a socket is open). */
  sendMessage(input: FakeMessageInput): { envelopeId: string; ts: string; eventId: string };
  /**
   * A user adds a reaction (`name`: Slack's emoji name, e.g. "white_check_mark") to a message: a
   * `reaction_added` Events API envelope over Socket Mode, shaped as Slack sends it.
   */
  sendReaction(input: { channel: string; ts: string; user: string; name: string; itemUser?: string }): { envelopeId: string };
  /** The signed Events API request Slack would POST in HTTP mode, for `postSignedEvent`. */
  eventCallback(input: FakeMessageInput): { body: Record<string, unknown>; ts: string };
  /** Sends an envelope again (as Slack does when an ack was lost), acknowledged or not. */
  resend(envelopeId: string): void;
  /** Closes the current sockets without a close handshake (a network drop). */
  dropSockets(): void;
  /**
   * The next `count` envelopes written to a socket are lost on the wire (a connection dying with data in
   * flight): Slack counts them as sent, the client never reads them, and they stay unacknowledged.
   */
  loseNext(count?: number): void;
  /** Sends `{ type: "disconnect", reason: "refresh_requested" }`, as Slack does before recycling a socket. */
  requestRefresh(): void;
  /** Envelopes sent but not acknowledged yet. */
  unacked(): string[];
  close(): Promise<void>;
}

/** Signs an Events API body the way Slack does (v0 HMAC-SHA256 over "v0:<ts>:<body>"). */
export function signSlackRequest(signingSecret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
  const signature = `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signature };
}

/** POSTs an Events API body to an HTTP-mode receiver, signed with `signingSecret`. */
export async function postSignedEvent(url: string, body: Record<string, unknown>, signingSecret: string): Promise<{ status: number; text: string }> {
  const raw = JSON.stringify(body);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signSlackRequest(signingSecret, raw) },
    body: raw,
  });
  return { status: response.status, text: await response.text() };
}

export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const botToken = options.botToken ?? 'xoxb-fake-bot-token-0000';
  const appToken = options.appToken ?? 'xapp-1-fake-app-token-0000';
  const teamId = options.teamId ?? 'T0FAKE';
  const botUserId = options.botUserId ?? 'U0BOT';
  const botId = options.botId ?? 'B0BOT';
  const appId = options.appId ?? 'A0APP';

  const calls: FakeSlackCall[] = [];
  const posts: FakeSlackPost[] = [];
  const reactions: FakeSlackReaction[] = [];
  const acks = new Map<string, number>();
  const rateLimits = new Map<string, { seconds: number; times: number; skip: number }>();
  const failures = new Map<string, string[]>();
  const tickets = new Set<string>();
  const sockets = new Set<WebSocket>();
  /** Envelopes not yet acknowledged, in send order. */
  const pending = new Map<string, Envelope>();
  const envelopes = new Map<string, Envelope>();
  /** Envelopes written to some socket at least once (a resend is a retry). */
  const wasSent = new Set<string>();
  let connectionCount = 0;
  let seq = 0;
  let toLose = 0;

  const nextTs = (): string => {
    seq += 1;
    return `${1_700_000_000 + seq}.${String(seq).padStart(6, '0')}`;
  };

  const server: Server = createServer((req, res) => {
    void handleHttp(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: 'fatal_error', detail: String(err) });
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const ticket = url.searchParams.get('ticket');
    if (url.pathname !== '/link/' || !ticket || !tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  function onSocket(ws: WebSocket): void {
    sockets.add(ws);
    connectionCount += 1;
    ws.on('close', () => sockets.delete(ws));
    ws.on('message', (data) => {
      let message: { envelope_id?: unknown };
      try {
        message = JSON.parse(String(data)) as { envelope_id?: unknown };
      } catch {
        return;
      }
      if (typeof message.envelope_id === 'string') {
        acks.set(message.envelope_id, (acks.get(message.envelope_id) ?? 0) + 1);
        pending.delete(message.envelope_id);
      }
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: sockets.size,
        debug_info: { host: 'applink-fake', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: appId },
      }),
    );
    // Slack redelivers what was never acknowledged, marked as a retry.
    for (const envelope of pending.values()) {
      if (wasSent.has(envelope.envelope_id)) {
        envelope.retry_attempt += 1;
        envelope.retry_reason = 'timeout';
      }
      write(ws, envelope);
    }
  }

  function write(ws: WebSocket, envelope: Envelope): void {
    wasSent.add(envelope.envelope_id);
    if (toLose > 0) {
      toLose -= 1;
      return;
    }
    ws.send(JSON.stringify(envelope));
  }

  function deliver(envelope: Envelope): void {
    envelopes.set(envelope.envelope_id, envelope);
    pending.set(envelope.envelope_id, envelope);
    const open = [...sockets].find((s) => s.readyState === s.OPEN);
    if (open) write(open, envelope);
  }

  function buildEvent(input: FakeMessageInput): { event: Record<string, unknown>; ts: string } {
    const ts = input.ts ?? nextTs();
    const channelType = input.channelType ?? (input.channel.startsWith('D') ? 'im' : 'channel');
    const event: Record<string, unknown> = {
      type: input.type ?? 'message',
      channel: input.channel,
      text: input.text,
      ts,
      event_ts: ts,
      team: input.teamId ?? teamId,
      client_msg_id: randomUUID(),
    };
    if (input.type !== 'app_mention') event.channel_type = channelType;
    if (input.user !== undefined || input.botId === undefined) event.user = input.user ?? 'U0HUMAN';
    if (input.threadTs) event.thread_ts = input.threadTs;
    if (input.parentUserId) event.parent_user_id = input.parentUserId;
    if (input.subtype) event.subtype = input.subtype;
    if (input.botId) event.bot_id = input.botId;
    return { event, ts };
  }

  function callbackBody(event: Record<string, unknown>, team: string): { body: Record<string, unknown>; eventId: string } {
    const eventId = `Ev${String(++seq).padStart(8, '0')}`;
    return {
      eventId,
      body: {
        token: 'verification-token-unused',
        team_id: team,
        context_team_id: team,
        api_app_id: appId,
        event,
        type: 'event_callback',
        event_id: eventId,
        event_time: Math.floor(Date.now() / 1000),
        authorizations: [{ enterprise_id: null, team_id: team, user_id: botUserId, is_bot: true, is_enterprise_install: false }],
        is_ext_shared_channel: false,
        event_context: `4-fake-${eventId}`,
      },
    };
  }

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = /^\/api\/([a-zA-Z.]+)$/.exec(url.pathname);
    if (req.method !== 'POST' || !match) {
      sendJson(res, 404, { ok: false, error: 'unknown_method' });
      return;
    }
    const method = match[1]!;
    const raw = await readBody(req);
    const params = parseParams(raw, req.headers['content-type'] ?? '');
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : typeof params.token === 'string' ? params.token : undefined;
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
    calls.push({ method, token, params, headers });

    const limit = rateLimits.get(method);
    if (limit && limit.skip > 0) {
      limit.skip -= 1;
    } else if (limit && limit.times > 0) {
      limit.times -= 1;
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(limit.seconds) });
      res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
      return;
    }
    const failure = failures.get(method)?.shift();
    if (failure) {
      sendJson(res, 200, { ok: false, error: failure });
      return;
    }
    const expected = method === 'apps.connections.open' ? appToken : botToken;
    if (!token) {
      sendJson(res, 200, { ok: false, error: 'not_authed' });
      return;
    }
    if (token !== expected) {
      sendJson(res, 200, { ok: false, error: method === 'apps.connections.open' && token === botToken ? 'not_allowed_token_type' : 'invalid_auth' });
      return;
    }
    sendJson(res, 200, api(method, params));
  }

  function api(method: string, params: Record<string, unknown>): Record<string, unknown> {
    const str = (key: string): string | undefined => (typeof params[key] === 'string' ? (params[key] as string) : undefined);
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://fake.slack.com/', team: 'Fake Team', user: 'spacebot', team_id: teamId, user_id: botUserId, bot_id: botId, is_enterprise_install: false };
      case 'apps.connections.open': {
        const ticket = randomUUID();
        tickets.add(ticket);
        return { ok: true, url: `ws://127.0.0.1:${port}/link/?ticket=${ticket}&app_id=${appId}` };
      }
      case 'chat.postMessage': {
        const channel = str('channel');
        const text = str('text');
        if (!channel) return { ok: false, error: 'channel_not_found' };
        if (!text) return { ok: false, error: 'no_text' };
        if (text.length > 40_000) return { ok: false, error: 'msg_too_long' };
        const threadTs = str('thread_ts');
        const ts = nextTs();
        posts.push({ channel, ts, threadTs, text, edits: [] });
        return { ok: true, channel, ts, message: { type: 'message', user: botUserId, bot_id: botId, text, ts, ...(threadTs ? { thread_ts: threadTs } : {}) } };
      }
      case 'chat.update': {
        const post = posts.find((p) => p.channel === str('channel') && p.ts === str('ts'));
        if (!post) return { ok: false, error: 'message_not_found' };
        const text = str('text') ?? '';
        post.edits.push(text);
        post.text = text;
        return { ok: true, channel: post.channel, ts: post.ts, text };
      }
      case 'reactions.add': {
        const channel = str('channel');
        const timestamp = str('timestamp');
        const name = str('name');
        if (!channel || !timestamp || !name) return { ok: false, error: 'invalid_arguments' };
        if (reactions.some((r) => r.channel === channel && r.timestamp === timestamp && r.name === name)) return { ok: false, error: 'already_reacted' };
        reactions.push({ channel, timestamp, name });
        return { ok: true };
      }
      case 'assistant.threads.setStatus': {
        // Only DM threads can be assistant threads.
        if (!str('channel_id')?.startsWith('D') || !str('thread_ts')) return { ok: false, error: 'channel_not_found' };
        return { ok: true };
      }
      case 'conversations.info':
        return { ok: true, channel: { id: str('channel'), is_im: str('channel')?.startsWith('D') ?? false } };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  return {
    url,
    apiUrl: `${url}/api/`,
    botToken,
    appToken,
    teamId,
    botUserId,
    botId,
    calls,
    posts,
    reactions,
    acks,
    get connectionCount() {
      return connectionCount;
    },
    rateLimit(method, retryAfterSeconds, times = 1, skip = 0) {
      rateLimits.set(method, { seconds: retryAfterSeconds, times, skip });
    },
    failNext(method, error) {
      failures.set(method, [...(failures.get(method) ?? []), error]);
    },
    sendMessage(input) {
      const { event, ts } = buildEvent(input);
      const { body, eventId } = callbackBody(event, input.teamId ?? teamId);
      const envelope: Envelope = {
        envelope_id: randomUUID(),
        type: 'events_api',
        accepts_response_payload: false,
        retry_attempt: 0,
        retry_reason: '',
        payload: body,
      };
      deliver(envelope);
      return { envelopeId: envelope.envelope_id, ts, eventId };
    },
    sendReaction(input) {
      const eventTs = nextTs();
      const event: Record<string, unknown> = {
        type: 'reaction_added',
        user: input.user,
        reaction: input.name,
        item_user: input.itemUser ?? botUserId,
        item: { type: 'message', channel: input.channel, ts: input.ts },
        event_ts: eventTs,
      };
      const envelope: Envelope = {
        envelope_id: randomUUID(),
        type: 'events_api',
        accepts_response_payload: false,
        retry_attempt: 0,
        retry_reason: '',
        payload: callbackBody(event, teamId).body,
      };
      deliver(envelope);
      return { envelopeId: envelope.envelope_id };
    },
    eventCallback(input) {
      const { event, ts } = buildEvent(input);
      return { body: callbackBody(event, input.teamId ?? teamId).body, ts };
    },
    resend(envelopeId) {
      const envelope = envelopes.get(envelopeId);
      if (!envelope) throw new Error(`unknown envelope ${envelopeId}`);
      envelope.retry_attempt += 1;
      envelope.retry_reason = 'timeout';
      deliver(envelope);
    },
    loseNext(count = 1) {
      toLose += count;
    },
    dropSockets() {
      for (const socket of sockets) socket.terminate();
    },
    requestRefresh() {
      for (const socket of sockets) socket.send(JSON.stringify({ type: 'disconnect', reason: 'refresh_requested', debug_info: { host: 'applink-fake' } }));
    },
    unacked() {
      return [...pending.keys()];
    },
    async close() {
      for (const socket of sockets) socket.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Slack accepts form-encoded arguments (what @slack/web-api sends, objects JSON-encoded) and JSON bodies. */
function parseParams(raw: string, contentType: string): Record<string, unknown> {
  if (raw.length === 0) return {};
  if (contentType.includes('application/json')) {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}
