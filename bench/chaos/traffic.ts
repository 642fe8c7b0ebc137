import { setTimeout as sleep } from 'node:timers/promises';
import type { FakeTelegram } from '../../test/fake-platforms/telegram/server.js';
import { messageTag } from './fake-agent.js';
import type { Ledger } from './ledger.js';
import { AGENT } from './topology.js';

/**
 * The users of the chaos run: conversations 1..telegramConversations are private Telegram chats (the
 * message goes into the fake Bot API, the gateway polls it); the rest talk to the webhook API of a
 * random API process, retrying (same messageId, so the channel deduplicates) until one accepts. Replies
 * are collected from the fake's sent messages and from the API transcripts.
 */
// A client that waits this long for an answer from a loaded API before trying again (same messageId).
const API_ATTEMPT_TIMEOUT_MS = 30_000;
const API_RETRY_MS = 500;
const TELEGRAM_CHAT_BASE = 7_000_000;

export interface TrafficOptions {
  telegram: FakeTelegram;
  apiUrls: string[];
  token: string;
  ledger: Ledger;
  conversations: number;
  /** Conversations 1..telegramConversations use Telegram, the others the API. */
  telegramConversations: number;
  random: () => number;
  log: (line: string) => void;
}

export const telegramChatId = (conversation: number): number => TELEGRAM_CHAT_BASE + conversation;
const apiConversation = (conversation: number): string => `chaos-${conversation}`;

export class Traffic {
  readonly #opts: TrafficOptions;
  readonly #perConversation = new Map<number, number>();
  readonly #pendingApi = new Set<Promise<void>>();
  #telegramSeen = 0;
  readonly #cursors = new Map<number, string>();
  #closed = false;

  constructor(opts: TrafficOptions) {
    this.#opts = opts;
  }

  /** One message from a random conversation. */
  sendOne(): void {
    const { random, conversations, telegramConversations, ledger } = this.#opts;
    const conversation = 1 + Math.floor(random() * conversations);
    const n = (this.#perConversation.get(conversation) ?? 0) + 1;
    this.#perConversation.set(conversation, n);
    const tag = messageTag(conversation, n);
    const text = `message ${tag}`;
    const sentAt = Date.now();
    if (conversation <= telegramConversations) {
      const chatId = telegramChatId(conversation);
      ledger.recordSent({ tag, conversation, via: 'telegram', sentAt });
      this.#opts.telegram.inject({ chat: { id: chatId, type: 'private' }, from: { id: chatId, is_bot: false, first_name: `User${conversation}` }, text });
      return;
    }
    ledger.recordSent({ tag, conversation, via: 'api', sentAt });
    const pending = this.#postUntilAccepted(conversation, tag, text).finally(() => this.#pendingApi.delete(pending));
    this.#pendingApi.add(pending);
  }

  /** Sends `count` messages spread evenly (with jitter) over `durationMs`. */
  async run(count: number, durationMs: number): Promise<void> {
    const gap = durationMs / Math.max(1, count);
    const start = Date.now();
    for (let i = 0; i < count && !this.#closed; i++) {
      const due = start + i * gap + this.#opts.random() * gap * 0.5;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      this.sendOne();
    }
  }

  /** Looks at replies that arrived since the last call. */
  async collect(): Promise<void> {
    const { telegram, ledger } = this.#opts;
    const now = Date.now();
    for (; this.#telegramSeen < telegram.sent.length; this.#telegramSeen++) {
      const reply = telegram.sent[this.#telegramSeen]!;
      ledger.recordReply('telegram', reply.chat_id - TELEGRAM_CHAT_BASE, reply.text, now);
    }
    for (let c = this.#opts.telegramConversations + 1; c <= this.#opts.conversations; c++) {
      if (!this.#perConversation.has(c)) continue;
      await this.#collectTranscript(c).catch(() => undefined);
    }
  }

  /** Stops retrying API posts (at the end of the run) and waits for the ones in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#pendingApi]);
  }

  async #postUntilAccepted(conversation: number, tag: string, text: string): Promise<void> {
    const { apiUrls, token, ledger, random } = this.#opts;
    for (let attempt = 1; !this.#closed; attempt++) {
      const base = apiUrls[Math.floor(random() * apiUrls.length)]!;
      try {
        const res = await fetch(`${base}/v1/agents/${AGENT}/conversations/${apiConversation(conversation)}/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ text, messageId: tag }),
          signal: AbortSignal.timeout(API_ATTEMPT_TIMEOUT_MS),
        });
        await res.text();
        if (res.status === 200 || res.status === 202) {
          ledger.sent.get(tag)!.acceptedAt = Date.now();
          return;
        }
        if (res.status !== 429 && res.status < 500) {
          this.#opts.log(`chaos: API refused ${tag} for good: HTTP ${res.status}`);
          return;
        }
      } catch {
        // The process was killed under the request, or is restarting: try again, maybe the other one.
      }
      await sleep(API_RETRY_MS * Math.min(attempt, 6));
    }
  }

  async #collectTranscript(conversation: number): Promise<void> {
    const { apiUrls, token, ledger } = this.#opts;
    for (const base of apiUrls) {
      const after = this.#cursors.get(conversation) ?? '0';
      let body: { messages: { id: string; direction: string; text: string }[]; nextCursor: string | null };
      try {
        const res = await fetch(`${base}/v1/agents/${AGENT}/conversations/${apiConversation(conversation)}/messages?after=${encodeURIComponent(after)}&limit=500`, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(5_000),
        });
        if (res.status !== 200) continue;
        body = (await res.json()) as typeof body;
      } catch {
        continue;
      }
      const now = Date.now();
      for (const m of body.messages) if (m.direction === 'outbound') ledger.recordReply('api', conversation, m.text, now);
      if (body.nextCursor) this.#cursors.set(conversation, body.nextCursor);
      return;
    }
  }
}
