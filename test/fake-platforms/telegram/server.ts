import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A local Telegram Bot API over real HTTP: `POST /bot<token>/<method>` with JSON (what grammY sends),
 * answering `{ ok, result }` or `{ ok: false, error_code, description, parameters }`. getUpdates is a
 * real long poll honouring `offset` (confirming earlier updates) and `timeout`. Tests inject updates,
 * inspect what the bot sent, and inject faults: a 429 with retry_after, or a dropped poll.
 */

export interface FakeChat {
  id: number;
  type: 'private' | 'group' | 'supergroup';
  title?: string;
  is_forum?: boolean;
}

export interface FakeUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  username?: string;
}

export interface SentMessage {
  message_id: number;
  chat_id: number;
  text: string;
  parse_mode?: string;
  reply_to_message_id?: number;
  message_thread_id?: number;
}

export interface RecordedCall {
  method: string;
  token: string;
  payload: Record<string, unknown>;
  at: number;
}

export interface InjectMessage {
  chat: FakeChat;
  from: FakeUser;
  text: string;
  /** Reply to one of the bot's messages (counts as addressing the bot in groups). */
  replyToBotMessageId?: number;
  /** Forum topic id. */
  topicId?: number;
}

export interface FakeTelegram {
  url: string;
  token: string;
  bot: FakeUser & { username: string };
  calls: RecordedCall[];
  sent: SentMessage[];
  edits: { chat_id: number; message_id: number; text: string; parse_mode?: string }[];
  reactions: { chat_id: number; message_id: number; reaction: unknown[] }[];
  chatActions: { chat_id: number; action: string }[];
  /** Queues a user message as an update; returns its update_id and message_id. */
  inject(message: InjectMessage): { updateId: number; messageId: number };
  /** Queues a `message_reaction` update: `user` now reacts with `emoji` (added to what they had) on a message. */
  injectReaction(reaction: { chat: FakeChat; user: FakeUser; messageId: number; emoji: string[]; old?: string[] }): { updateId: number };
  /** Queues several messages at once, so one getUpdates answer carries them all. */
  injectBatch(messages: InjectMessage[]): { updateId: number; messageId: number }[];
  /** A later call of `method` fails once with this error: the next one, or the one after `skip` successful calls. */
  failNext(method: string, error: { error_code: number; description: string; retry_after?: number }, skip?: number): void;
  /**
   * The next call of `method` is held (a slow platform) until `release()`, then handled as usual;
   * `reached` resolves when that call has arrived.
   */
  holdNext(method: string): { reached: Promise<void>; release(): void };
  /** Holds the next `count` getUpdates calls until updates exist, then closes their sockets without answering. */
  dropNextPolls(count: number): void;
  /** getUpdates calls currently held open. */
  pendingPolls(): number;
  close(): Promise<void>;
}

interface Update {
  update_id: number;
  message?: Record<string, unknown>;
  message_reaction?: Record<string, unknown>;
}

interface Poll {
  offset: number;
  respond: (updates: Update[]) => void;
  drop: boolean;
  socket: Socket;
  timer: NodeJS.Timeout;
}

export async function startFakeTelegram(options: { port?: number; token?: string } = {}): Promise<FakeTelegram> {
  const token = options.token ?? '123456:TEST-fake-telegram-token-abcdef';
  const bot = { id: 900_000_001, is_bot: true, first_name: 'Spacebot', username: 'spacebot_test_bot' };
  const updates: Update[] = [];
  const polls = new Set<Poll>();
  const faults = new Map<string, { error_code: number; description: string; retry_after?: number; skip: number }[]>();
  const holds = new Map<string, { arrived: () => void; released: Promise<void> }[]>();
  const messageSeq = new Map<number, number>();
  let updateSeq = 100;
  let dropPolls = 0;
  const sockets = new Set<Socket>();

  const nextMessageId = (chatId: number) => {
    const next = (messageSeq.get(chatId) ?? 0) + 1;
    messageSeq.set(chatId, next);
    return next;
  };

  const fake: FakeTelegram = {
    url: '',
    token,
    bot,
    calls: [],
    sent: [],
    edits: [],
    reactions: [],
    chatActions: [],
    inject(message) {
      return fake.injectBatch([message])[0]!;
    },
    injectReaction(reaction) {
      const emoji = (list: string[]) => list.map((e) => ({ type: 'emoji', emoji: e }));
      const update: Update = {
        update_id: ++updateSeq,
        message_reaction: {
          chat: reaction.chat,
          message_id: reaction.messageId,
          user: reaction.user,
          date: Math.floor(Date.now() / 1000),
          old_reaction: emoji(reaction.old ?? []),
          new_reaction: emoji([...(reaction.old ?? []), ...reaction.emoji]),
        },
      };
      updates.push(update);
      wakePolls();
      return { updateId: update.update_id };
    },
    injectBatch(messages) {
      const queued = messages.map(queueMessage);
      wakePolls();
      return queued;
    },
    failNext(method, error, skip = 0) {
      faults.set(method, [...(faults.get(method) ?? []), { ...error, skip }]);
    },
    holdNext(method) {
      let arrived!: () => void;
      let release!: () => void;
      const reached = new Promise<void>((resolve) => (arrived = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      holds.set(method, [...(holds.get(method) ?? []), { arrived, released }]);
      return { reached, release };
    },
    dropNextPolls(count) {
      dropPolls += count;
    },
    pendingPolls: () => polls.size,
    async close() {
      for (const poll of polls) clearTimeout(poll.timer);
      polls.clear();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  function queueMessage(message: InjectMessage): { updateId: number; messageId: number } {
    const messageId = nextMessageId(message.chat.id);
    const update: Update = {
      update_id: ++updateSeq,
      message: {
        message_id: messageId,
        date: Math.floor(Date.now() / 1000),
        chat: message.chat,
        from: message.from,
        text: message.text,
        ...(message.topicId ? { message_thread_id: message.topicId, is_topic_message: true } : {}),
        ...(message.replyToBotMessageId
          ? { reply_to_message: { message_id: message.replyToBotMessageId, date: 0, chat: message.chat, from: bot, text: '…' } }
          : {}),
      },
    };
    updates.push(update);
    return { updateId: update.update_id, messageId };
  }

  function pendingFrom(offset: number): Update[] {
    return updates.filter((u) => u.update_id >= offset);
  }

  function wakePolls() {
    for (const poll of [...polls]) {
      const ready = pendingFrom(poll.offset);
      if (ready.length === 0) continue;
      polls.delete(poll);
      clearTimeout(poll.timer);
      if (poll.drop) poll.socket.destroy();
      else poll.respond(ready);
    }
  }

  function handle(method: string, payload: Record<string, unknown>, res: http.ServerResponse, socket: Socket) {
    const ok = (result: unknown) => send(res, 200, { ok: true, result });
    const queued = faults.get(method);
    if (queued?.length && queued[0]!.skip > 0) queued[0]!.skip -= 1;
    else if (queued?.length) {
      const fault = queued.shift()!;
      return send(res, fault.error_code, {
        ok: false,
        error_code: fault.error_code,
        description: fault.description,
        ...(fault.retry_after !== undefined ? { parameters: { retry_after: fault.retry_after } } : {}),
      });
    }
    switch (method) {
      case 'getMe':
        return ok(bot);
      case 'getUpdates': {
        const offset = Number(payload.offset ?? 0);
        // Confirming: updates before the offset are forgotten, as Telegram does.
        if (offset > 0) for (let i = updates.length - 1; i >= 0; i--) if (updates[i]!.update_id < offset) updates.splice(i, 1);
        const ready = pendingFrom(offset);
        const drop = dropPolls > 0;
        if (drop) dropPolls -= 1;
        if (ready.length && !drop) return ok(ready);
        const timeoutMs = Number(payload.timeout ?? 0) * 1000;
        if (timeoutMs === 0 && !drop) return ok([]);
        const poll: Poll = {
          offset,
          respond: (list) => ok(list),
          drop,
          socket,
          timer: setTimeout(() => {
            polls.delete(poll);
            if (poll.drop) socket.destroy();
            else ok([]);
          }, timeoutMs || 30_000),
        };
        polls.add(poll);
        if (ready.length) wakePolls();
        return;
      }
      case 'sendMessage': {
        const chatId = Number(payload.chat_id);
        const text = String(payload.text ?? '');
        if (!text) return send(res, 400, { ok: false, error_code: 400, description: 'Bad Request: message text is empty' });
        if (visibleLength(text, payload.parse_mode) > 4096) {
          return send(res, 400, { ok: false, error_code: 400, description: 'Bad Request: message is too long' });
        }
        if (payload.parse_mode === 'HTML' && !balancedHtml(text)) {
          return send(res, 400, { ok: false, error_code: 400, description: "Bad Request: can't parse entities: unbalanced tags" });
        }
        const reply = payload.reply_parameters as { message_id?: number } | undefined;
        const message: SentMessage = {
          message_id: nextMessageId(chatId),
          chat_id: chatId,
          text,
          ...(typeof payload.parse_mode === 'string' ? { parse_mode: payload.parse_mode } : {}),
          ...(reply?.message_id ? { reply_to_message_id: reply.message_id } : {}),
          ...(typeof payload.message_thread_id === 'number' ? { message_thread_id: payload.message_thread_id } : {}),
        };
        fake.sent.push(message);
        return ok({ message_id: message.message_id, date: Math.floor(Date.now() / 1000), chat: { id: chatId, type: 'private' }, from: bot, text });
      }
      case 'editMessageText': {
        const chatId = Number(payload.chat_id);
        const messageId = Number(payload.message_id);
        const target = fake.sent.find((m) => m.chat_id === chatId && m.message_id === messageId);
        if (!target) return send(res, 400, { ok: false, error_code: 400, description: 'Bad Request: message to edit not found' });
        const text = String(payload.text ?? '');
        if (target.text === text) {
          return send(res, 400, { ok: false, error_code: 400, description: 'Bad Request: message is not modified: specified new message content and reply markup are exactly the same' });
        }
        target.text = text;
        fake.edits.push({ chat_id: chatId, message_id: messageId, text, ...(typeof payload.parse_mode === 'string' ? { parse_mode: payload.parse_mode } : {}) });
        return ok({ message_id: messageId, date: 0, chat: { id: chatId, type: 'private' }, text });
      }
      case 'setMessageReaction':
        fake.reactions.push({ chat_id: Number(payload.chat_id), message_id: Number(payload.message_id), reaction: (payload.reaction as unknown[]) ?? [] });
        return ok(true);
      case 'sendChatAction':
        fake.chatActions.push({ chat_id: Number(payload.chat_id), action: String(payload.action) });
        return ok(true);
      case 'deleteWebhook':
        return ok(true);
      default:
        return send(res, 404, { ok: false, error_code: 404, description: 'Not Found: method not found' });
    }
  }

  const server = http.createServer((req, res) => {
    const match = /^\/bot([^/]+)\/(\w+)$/.exec(req.url?.split('?')[0] ?? '');
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (!match) return send(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
      const [, requestToken, method] = match as unknown as [string, string, string];
      const payload = parseBody(Buffer.concat(chunks).toString('utf8'), req.headers['content-type'], req.url ?? '');
      fake.calls.push({ method, token: decodeURIComponent(requestToken), payload, at: Date.now() });
      if (decodeURIComponent(requestToken) !== token) return send(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
      const hold = holds.get(method)?.shift();
      if (!hold) return handle(method, payload, res, req.socket);
      hold.arrived();
      void hold.released.then(() => handle(method, payload, res, req.socket));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

function send(res: http.ServerResponse, status: number, body: unknown) {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function parseBody(body: string, contentType: string | undefined, url: string): Record<string, unknown> {
  if (body && contentType?.includes('application/json')) return JSON.parse(body) as Record<string, unknown>;
  const params = new URLSearchParams(body || url.split('?')[1] || '');
  const out: Record<string, unknown> = {};
  for (const [key, value] of params) {
    try {
      out[key] = JSON.parse(value);
    } catch {
      out[key] = value;
    }
  }
  return out;
}

/** Telegram's limit counts the text after entity parsing: tags removed, entities decoded. */
function visibleLength(text: string, parseMode: unknown): number {
  if (parseMode !== 'HTML') return text.length;
  return text.replace(/<[^>]+>/g, '').replace(/&(lt|gt|amp|quot);/g, '_').length;
}

/** Telegram rejects HTML whose tags do not nest properly. */
function balancedHtml(text: string): boolean {
  const stack: string[] = [];
  for (const match of text.matchAll(/<(\/?)([a-z]+)[^>]*>/g)) {
    const [, closing, tag] = match as unknown as [string, string, string];
    if (!closing) stack.push(tag);
    else if (stack.pop() !== tag) return false;
  }
  return stack.length === 0;
}
