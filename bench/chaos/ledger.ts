import { tagsIn } from './fake-agent.js';

/**
 * What was sent and what came back, per message id. A message is answered exactly once when exactly
 * one reply naming its id reached the platform fake (or, for API conversations, the transcript) of its
 * own conversation; each reply is looked at once, by its position or row id, so a poll never counts a
 * reply twice.
 */
export type Via = 'telegram' | 'api';

export interface SentMessage {
  tag: string;
  conversation: number;
  via: Via;
  sentAt: number;
  /** API messages: when an API process accepted it (undefined while it has not). */
  acceptedAt?: number;
  /** When each reply naming it was seen. */
  answers: number[];
}

export interface ChaosCounts {
  sent: number;
  answeredOnce: number;
  lost: number;
  doubled: number;
  /** API messages no API process accepted before the end (the client knows; not silent). */
  notAccepted: number;
  /** Replies naming an id this run never sent, or in another conversation than its own. */
  strayReplies: number;
  worstAnswerMs: number;
  p50AnswerMs: number;
  p99AnswerMs: number;
}

export class Ledger {
  readonly sent = new Map<string, SentMessage>();
  strayReplies = 0;

  recordSent(message: Omit<SentMessage, 'answers'>): void {
    if (this.sent.has(message.tag)) throw new Error(`message ${message.tag} sent twice by the harness`);
    this.sent.set(message.tag, { ...message, answers: [] });
  }

  /** One reply, seen once, in `conversation` over `via`. */
  recordReply(via: Via, conversation: number, text: string, at: number): void {
    for (const tag of tagsIn(text)) {
      const message = this.sent.get(tag);
      if (!message || message.via !== via || message.conversation !== conversation) {
        this.strayReplies++;
        continue;
      }
      message.answers.push(at);
    }
  }

  unanswered(): SentMessage[] {
    return [...this.sent.values()].filter((m) => m.answers.length === 0 && (m.via === 'telegram' || m.acceptedAt !== undefined));
  }

  counts(): ChaosCounts {
    const messages = [...this.sent.values()];
    const times = messages.filter((m) => m.answers.length > 0).map((m) => Math.min(...m.answers) - m.sentAt).sort((a, b) => a - b);
    const at = (q: number) => (times.length ? times[Math.min(times.length - 1, Math.ceil((q / 100) * times.length) - 1)]! : NaN);
    const notAccepted = messages.filter((m) => m.via === 'api' && m.acceptedAt === undefined && m.answers.length === 0).length;
    return {
      sent: messages.length,
      answeredOnce: messages.filter((m) => m.answers.length === 1).length,
      lost: messages.filter((m) => m.answers.length === 0).length - notAccepted,
      doubled: messages.filter((m) => m.answers.length > 1).length,
      notAccepted,
      strayReplies: this.strayReplies,
      worstAnswerMs: times.length ? times[times.length - 1]! : NaN,
      p50AnswerMs: at(50),
      p99AnswerMs: at(99),
    };
  }
}
