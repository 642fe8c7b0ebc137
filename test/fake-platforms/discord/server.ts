import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeGateway } from './gateway.js';
import { apiChannel, apiMessage, apiUser, ChannelTypes, snowflake, type FakeChannel, type FakeGuild, type FakeUser } from './objects.js';

/**
 * A local Discord: the REST API under /api/v10 (the routes discord.js and the adapter call) and the
 * gateway WebSocket on the same port, announced by GET /api/v10/gateway/bot. It keeps what was posted,
 * edited, reacted and typed so tests assert on the platform side, and can answer one request with a
 * real-looking failure (429 with Discord's rate-limit headers and body, 401, 5xx).
 */

const MESSAGE_CONTENT_INTENT = 1 << 15;
const GUILD_MESSAGE_REACTIONS_INTENT = 1 << 10;
const DIRECT_MESSAGE_REACTIONS_INTENT = 1 << 13;
const MAX_CONTENT = 2000;

export interface PostedMessage {
  id: string;
  channelId: string;
  content: string;
  /** The message replied to (message_reference.message_id). */
  replyTo?: string;
  nonce?: string;
  enforceNonce?: boolean;
  allowedMentions?: unknown;
  /** Every content the message had after edits, oldest first. */
  edits: string[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization?: string;
  body?: unknown;
}

export interface InjectedFailure {
  method: string;
  /** Matched against the path after /api/v10. */
  path: RegExp;
  status: number;
  /** 429 only: seconds to wait, as Discord reports them. */
  retryAfterSeconds?: number;
  global?: boolean;
}

export interface FakeDiscordOptions {
  token?: string;
  bot?: FakeUser;
  guilds?: FakeGuild[];
  /** DM channels that exist (a DM channel per user who writes to the bot). */
  dmChannels?: FakeChannel[];
  heartbeatIntervalMs?: number;
  port?: number;
}

export interface IncomingMessageSpec {
  channel: FakeChannel;
  author: FakeUser;
  content: string;
  mentions?: FakeUser[];
  replyTo?: { id: string; author: FakeUser; content: string };
}

export class FakeDiscord {
  readonly bot: FakeUser;
  readonly guilds: FakeGuild[];
  readonly posted: PostedMessage[] = [];
  readonly reactions: { channelId: string; messageId: string; emoji: string }[] = [];
  readonly typing: string[] = [];
  readonly requests: RecordedRequest[] = [];
  readonly gateway: FakeGateway;
  token: string;
  private readonly failures: InjectedFailure[] = [];
  private readonly channels = new Map<string, FakeChannel>();
  private readonly messages = new Map<string, { channelId: string; author: FakeUser; content: string }>();

  constructor(
    private readonly server: Server,
    options: FakeDiscordOptions,
  ) {
    this.token = options.token ?? 'fake-discord-bot-token.0123456789abcdef';
    this.bot = options.bot ?? { id: snowflake(), username: 'spacebot', bot: true };
    this.guilds = options.guilds ?? [];
    for (const guild of this.guilds) for (const channel of guild.channels) this.channels.set(channel.id, { ...channel, guildId: guild.id });
    for (const dm of options.dmChannels ?? []) this.channels.set(dm.id, dm);
    this.gateway = new FakeGateway(server, {
      token: () => this.token,
      bot: this.bot,
      guilds: this.guilds,
      url: () => this.wsUrl,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 41_250,
    });
    server.on('request', (req, res) => void this.route(req, res));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** What the adapter's `api_url` should be (discord.js appends /v10). */
  get apiUrl(): string {
    return `${this.url}/api`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  channel(id: string): FakeChannel {
    const channel = this.channels.get(id);
    if (!channel) throw new Error(`fake discord: unknown channel ${id}`);
    return channel;
  }

  /** A user writes a message: it is stored and dispatched as MESSAGE_CREATE (content hidden without the intent, as Discord does). */
  userMessage(spec: IncomingMessageSpec): string {
    const id = snowflake();
    this.messages.set(id, { channelId: spec.channel.id, author: spec.author, content: spec.content });
    const visible =
      (this.gateway.intents & MESSAGE_CONTENT_INTENT) !== 0 ||
      spec.channel.type === ChannelTypes.DM ||
      (spec.mentions ?? []).some((u) => u.id === this.bot.id);
    this.gateway.dispatch('MESSAGE_CREATE', apiMessage({ ...spec, id, content: visible ? spec.content : '' }));
    return id;
  }

  /**
   * A user adds a reaction (a Unicode emoji) to a message: MESSAGE_REACTION_ADD, sent only when the
   * session asked for the guild (or direct) message reactions intent, as Discord does.
   */
  userReaction(spec: { channel: FakeChannel; user: FakeUser; messageId: string; emoji: string }): boolean {
    const intent = spec.channel.type === ChannelTypes.DM ? DIRECT_MESSAGE_REACTIONS_INTENT : GUILD_MESSAGE_REACTIONS_INTENT;
    if ((this.gateway.intents & intent) === 0) return false;
    const guildId = this.channel(spec.channel.id).guildId;
    const author = this.messages.get(spec.messageId)?.author;
    this.gateway.dispatch('MESSAGE_REACTION_ADD', {
      user_id: spec.user.id,
      channel_id: spec.channel.id,
      message_id: spec.messageId,
      ...(author ? { message_author_id: author.id } : {}),
      emoji: { id: null, name: spec.emoji },
      burst: false,
      burst_colors: [],
      type: 0,
      ...(guildId ? { guild_id: guildId, member: { user: apiUser(spec.user), roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 } } : {}),
    });
    return true;
  }

  /** Answers the next matching request with `failure` instead of handling it. */
  failNext(failure: InjectedFailure): void {
    this.failures.push(failure);
  }

  postedIn(channelId: string): PostedMessage[] {
    return this.posted.filter((m) => m.channelId === channelId);
  }

  async close(): Promise<void> {
    await this.gateway.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      return send(res, 400, { message: '400: Bad Request', code: 50109 });
    }
    if (!url.pathname.startsWith('/api/v10/')) return send(res, 404, { message: '404: Not Found', code: 0 });
    const path = url.pathname.slice('/api/v10'.length);
    this.requests.push({ method, path, authorization: req.headers.authorization, body });

    if (req.headers.authorization !== `Bot ${this.token}`) return send(res, 401, { message: '401: Unauthorized', code: 0 });

    const failureIndex = this.failures.findIndex((f) => f.method === method && f.path.test(path));
    if (failureIndex !== -1) {
      const [failure] = this.failures.splice(failureIndex, 1);
      return sendFailure(res, failure!);
    }

    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    // GET /gateway/bot
    if (method === 'GET' && path === '/gateway/bot') {
      return send(res, 200, {
        url: this.wsUrl,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 86_400_000, max_concurrency: 1 },
      });
    }
    if (method === 'GET' && path === '/users/@me') return send(res, 200, apiUser(this.bot));
    if (parts[0] !== 'channels' || !parts[1]) return send(res, 404, { message: '404: Not Found', code: 0 });

    const channel = this.channels.get(parts[1]);
    if (!channel) return send(res, 404, { message: 'Unknown Channel', code: 10003 });
    // GET /channels/:id
    if (method === 'GET' && parts.length === 2) return send(res, 200, apiChannel(channel));
    // POST /channels/:id/typing
    if (method === 'POST' && parts[2] === 'typing' && parts.length === 3) {
      this.typing.push(channel.id);
      return send(res, 204);
    }
    // POST /channels/:id/messages
    if (method === 'POST' && parts[2] === 'messages' && parts.length === 3) return this.createMessage(res, channel, body as CreateBody);
    const message = parts[3] ? this.messages.get(parts[3]) : undefined;
    if (parts[2] === 'messages' && (!message || message.channelId !== channel.id)) return send(res, 404, { message: 'Unknown Message', code: 10008 });
    // PATCH /channels/:id/messages/:id
    if (method === 'PATCH' && parts.length === 4) return this.editMessage(res, channel, parts[3]!, body as { content?: string });
    // PUT /channels/:id/messages/:id/reactions/:emoji/@me
    if (method === 'PUT' && parts[4] === 'reactions' && parts[6] === '@me' && parts.length === 7) {
      const emoji = parts[5]!;
      if (!/^\p{Extended_Pictographic}/u.test(emoji) && !/^[\w~]{2,32}:\d+$/.test(emoji)) return send(res, 400, { message: 'Unknown Emoji', code: 10014 });
      this.reactions.push({ channelId: channel.id, messageId: parts[3]!, emoji });
      return send(res, 204);
    }
    return send(res, 405, { message: '405: Method Not Allowed', code: 0 });
  }

  private createMessage(res: ServerResponse, channel: FakeChannel, body: CreateBody): void {
    const content = body?.content ?? '';
    if (!content.trim()) return send(res, 400, { message: 'Cannot send an empty message', code: 50006 });
    if (content.length > MAX_CONTENT) {
      return send(res, 400, {
        message: 'Invalid Form Body',
        code: 50035,
        errors: { content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: `Must be ${MAX_CONTENT} or fewer in length.` }] } },
      });
    }
    const nonce = body.nonce === undefined ? undefined : String(body.nonce);
    if (nonce !== undefined && nonce.length > 25) return send(res, 400, { message: 'Invalid Form Body', code: 50035, errors: { nonce: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH' }] } } });
    const replyTo = body.message_reference?.message_id;
    if (replyTo && !this.messages.has(replyTo) && body.message_reference?.fail_if_not_exists !== false) {
      return send(res, 400, { message: 'Invalid Form Body', code: 50035, errors: { message_reference: { _errors: [{ code: 'REPLIES_UNKNOWN_MESSAGE' }] } } });
    }
    // enforce_nonce: the same nonce from the same author returns the message already created.
    if (nonce !== undefined && body.enforce_nonce) {
      const existing = this.posted.find((m) => m.channelId === channel.id && m.nonce === nonce);
      if (existing) return send(res, 200, this.apiPosted(channel, existing));
    }
    const posted: PostedMessage = { id: snowflake(), channelId: channel.id, content, replyTo, nonce, enforceNonce: body.enforce_nonce, allowedMentions: body.allowed_mentions, edits: [] };
    this.posted.push(posted);
    this.messages.set(posted.id, { channelId: channel.id, author: this.bot, content });
    const payload = this.apiPosted(channel, posted);
    // Discord echoes the bot's own messages on the gateway; adapters must ignore them.
    if (this.gateway.connected) this.gateway.dispatch('MESSAGE_CREATE', payload);
    send(res, 200, payload);
  }

  private editMessage(res: ServerResponse, channel: FakeChannel, id: string, body: { content?: string }): void {
    const posted = this.posted.find((m) => m.id === id);
    if (!posted) return send(res, 403, { message: 'Cannot edit a message authored by another user', code: 50005 });
    const content = body?.content ?? '';
    if (content.length > MAX_CONTENT) return send(res, 400, { message: 'Invalid Form Body', code: 50035 });
    posted.content = content;
    posted.edits.push(content);
    send(res, 200, this.apiPosted(channel, posted, new Date().toISOString()));
  }

  private apiPosted(channel: FakeChannel, posted: PostedMessage, editedAt?: string): Record<string, unknown> {
    const replied = posted.replyTo ? this.messages.get(posted.replyTo) : undefined;
    return apiMessage({
      id: posted.id,
      channel,
      author: this.bot,
      content: posted.content,
      nonce: posted.nonce,
      editedAt,
      replyTo: replied && posted.replyTo ? { id: posted.replyTo, author: replied.author, content: replied.content } : undefined,
    });
  }
}

interface CreateBody {
  content?: string;
  nonce?: string | number;
  enforce_nonce?: boolean;
  message_reference?: { message_id?: string; fail_if_not_exists?: boolean };
  allowed_mentions?: unknown;
}

/** Starts the fake on `port` (from freePorts) or an ephemeral port. */
export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  return new FakeDiscord(server, options);
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  const headers: Record<string, string> = {
    'x-ratelimit-limit': '5',
    'x-ratelimit-remaining': '4',
    'x-ratelimit-reset': String(Date.now() / 1000 + 5),
    'x-ratelimit-reset-after': '5',
    'x-ratelimit-bucket': 'fakebucket0',
  };
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  res.writeHead(status, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** A failure as Discord sends it; a 429 carries the headers discord.js reads and the JSON body. */
function sendFailure(res: ServerResponse, failure: InjectedFailure): void {
  if (failure.status === 429) {
    const retryAfter = failure.retryAfterSeconds ?? 1;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'retry-after': String(Math.ceil(retryAfter)),
      'x-ratelimit-limit': '5',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': String(Date.now() / 1000 + retryAfter),
      'x-ratelimit-reset-after': String(retryAfter),
      'x-ratelimit-bucket': 'fakebucket0',
      'x-ratelimit-scope': failure.global ? 'global' : 'user',
    };
    if (failure.global) headers['x-ratelimit-global'] = 'true';
    res.writeHead(429, headers).end(JSON.stringify({ message: 'You are being rate limited.', retry_after: retryAfter, global: failure.global ?? false }));
    return;
  }
  const messages: Record<number, [string, number]> = {
    401: ['401: Unauthorized', 0],
    403: ['Missing Permissions', 50013],
    404: ['Unknown Channel', 10003],
  };
  const [message, code] = messages[failure.status] ?? [`${failure.status}: Server Error`, 0];
  send(res, failure.status, { message, code });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export { ChannelTypes, snowflake, type FakeChannel, type FakeGuild, type FakeUser };
