import type { Kysely } from 'kysely';
import type { OutboundAdapter } from '../../adapters/outbound.js';
import type { Database } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { deliveryKeyOf, draftsOfStep, dropDraft, saveDraft, type Draft, type DraftPosition } from './drafts.js';
import { StreamLease } from './stream-lease.js';

/** Edits are never more frequent than this, whatever the platform allows. */
export const MIN_FLUSH_INTERVAL_MS = 1_000;
/** This much new text is shown at once, without waiting for the interval. */
export const FLUSH_CHARS = 1_500;
/** What a draft shows once its text was voided (the model call is retried or fell back). */
export const DRAFT_PLACEHOLDER = '…';
/** After this many failed platform calls in a row the stream stops; the final delivery still happens. */
const MAX_FAILURES = 3;


export type EditableAdapter = OutboundAdapter & Required<Pick<OutboundAdapter, 'edit'>>;

export function canEdit(adapter: OutboundAdapter | undefined): adapter is EditableAdapter {
  return typeof adapter?.edit === 'function';
}

export interface ReplyStreamOptions {
  adapter: EditableAdapter;
  db: Kysely<Database>;
  position: DraftPosition;
  logger: Logger;
  /** The model call's activity attempt: a newer attempt's stream supersedes an older one's. */
  generation: number;
  /** The platform message being answered, for the draft's first post. */
  replyTo?: string;
  /**
   * Called once, when the answer first shows on the platform. The typing indicator stops then: the
   * growing draft says the agent is answering, and on Slack a status set after the draft's post
   * (which clears it) would linger until Slack times it out, long after the answer is complete.
   */
  onShown?: () => void;
  now?: () => number;
}

interface Segment {
  key: string;
  text: string;
  /** Length of `text` at the last flush. */
  flushed: number;
  lastFlushAt: number;
  timer?: NodeJS.Timeout;
  /** Set (inside the operation chain) once the draft is posted or taken over. */
  draft?: Draft;
}

/**
 * Shows one model call's answer while it streams, on a platform that edits messages in place. Text
 * is coalesced per delivery key: the draft is posted (`send`) at the first flush and edited after,
 * at most every max(1000 ms, the adapter's `minEditIntervalMs`) or when 1500 new characters wait.
 * Each draft is recorded under the delivery key that will finalise it, so deliverReply edits it into
 * the complete text instead of posting a second message. A reset (retry, fallback) turns the drafts
 * into placeholders that the next text takes over, so a retried stream never leaves two messages.
 * Platform calls run one at a time, in order; their failures are logged, never thrown.
 */
export class ReplyStream {
  private readonly intervalMs: number;
  private readonly now: () => number;
  private segments = new Map<string, Segment>();
  /** Drafts bound to no key: voided by a reset, or left by an earlier attempt of this call. */
  private free: Draft[] = [];
  private chain: Promise<void> = Promise.resolve();
  private failures = 0;
  private stopped = false;
  private shown = false;
  private readonly started: number;
  /** Operations enqueued and not yet finished; the step's lease is released when none are left. */
  private queued = 0;
  private readonly lease: StreamLease;
  /** A newer attempt of this call holds the step: no platform call and no draft bookkeeping any more. */
  private superseded = false;

  constructor(private readonly opts: ReplyStreamOptions) {
    this.intervalMs = Math.max(MIN_FLUSH_INTERVAL_MS, opts.adapter.minEditIntervalMs ?? 0);
    this.now = opts.now ?? Date.now;
    this.started = this.now();
    this.lease = new StreamLease(opts.db, opts.position, opts.generation);
  }

  /**
   * Takes over the drafts an earlier attempt of this call left behind: their text is void. A failed
   * attempt returns without waiting for its stream (a platform call may be slow), on whichever
   * worker; this waits for its platform work (the step's lease in the database) before reading the
   * drafts, so a draft being posted is never missed and posted twice. If the lease cannot be had in
   * time, this attempt does not stream: its final delivery posts the reply.
   */
  async start(): Promise<void> {
    if (!(await this.lease.acquire())) {
      this.stopped = this.superseded = true;
      this.opts.logger.info({ channelId: this.opts.position.channelId, step: this.opts.position.step }, 'an earlier attempt still streams this step; this one does not stream');
      return;
    }
    const left = await draftsOfStep(this.opts.db, this.opts.position);
    if (!left.length) return this.lease.release();
    this.enqueue(async () => {
      for (const draft of left) await this.platform(() => this.opts.adapter.edit(this.opts.position.conversationId, draft.platformMessageId, DRAFT_PLACEHOLDER));
      this.free.push(...left);
    });
    await this.chain;
  }

  push(key: string, text: string): void {
    if (this.stopped || !text) return;
    let segment = this.segments.get(key);
    if (!segment) this.segments.set(key, (segment = { key, text: '', flushed: 0, lastFlushAt: this.started }));
    segment.text += text;
    if (segment.text.length - segment.flushed >= FLUSH_CHARS) return this.flush(segment);
    if (segment.timer) return;
    const s = segment;
    s.timer = setTimeout(() => this.flush(s), Math.max(0, s.lastFlushAt + this.intervalMs - this.now()));
  }

  /** Voids everything shown so far: drafts become placeholders, to be taken over by what comes next. */
  reset(): void {
    const voided = [...this.segments.values()];
    this.segments = new Map();
    for (const s of voided) clearTimeout(s.timer);
    this.enqueue(async () => {
      for (const s of voided) {
        if (!s.draft) continue;
        const draft = s.draft;
        await this.platform(() => this.opts.adapter.edit(this.opts.position.conversationId, draft.platformMessageId, DRAFT_PLACEHOLDER));
        this.free.push(draft);
      }
    });
  }

  /**
   * The call answered: every reply the workflow will deliver (`final`: key → text) that has no draft
   * takes over a free one, so it too is finalised by edit; drafts nothing will finalise are withdrawn.
   */
  async finish(final: Map<string, string>): Promise<void> {
    const segments = [...this.segments.values()];
    for (const s of segments) clearTimeout(s.timer);
    this.enqueue(async () => {
      const bound = new Set<string>();
      for (const s of segments) {
        if (!s.draft) continue;
        if (final.has(s.key)) bound.add(s.key);
        else this.free.push(s.draft);
      }
      for (const key of final.keys()) {
        if (bound.has(key)) continue;
        const draft = this.free.shift();
        if (!draft) break;
        await saveDraft(this.opts.db, this.opts.position, deliveryKeyOf(this.opts.position, key), draft.platformMessageId);
      }
      for (const draft of this.free.splice(0)) {
        await this.platform(() => this.opts.adapter.edit(this.opts.position.conversationId, draft.platformMessageId, DRAFT_PLACEHOLDER));
        await dropDraft(this.opts.db, draft.deliveryKey);
      }
    });
    await this.chain;
    // The channel's step leases from over an hour ago are of no use to anyone any more. Housekeeping:
    // a failure here must not fail the model call that has answered.
    await this.lease.sweep().catch((err: unknown) => this.opts.logger.warn({ err }, 'old stream leases not deleted'));
  }

  private flush(segment: Segment): void {
    clearTimeout(segment.timer);
    segment.timer = undefined;
    const text = segment.text;
    segment.flushed = text.length;
    segment.lastFlushAt = this.now();
    if (!text.trim()) return;
    this.enqueue(async () => {
      if (this.segments.get(segment.key) !== segment) return; // voided by a reset meanwhile
      const shown = clip(text, this.opts.adapter.maxMessageChars);
      const { adapter, position } = this.opts;
      const deliveryKey = deliveryKeyOf(position, segment.key);
      if (segment.draft) {
        const id = segment.draft.platformMessageId;
        await this.platform(() => adapter.edit(position.conversationId, id, shown));
        return;
      }
      const reused = this.free.shift();
      if (reused) {
        this.markShown();
        await this.platform(() => adapter.edit(position.conversationId, reused.platformMessageId, shown));
        segment.draft = { deliveryKey, platformMessageId: reused.platformMessageId };
      } else {
        // Before the post, so no typing refresh is sent while it is under way.
        this.markShown();
        const sent = await this.platform(() => adapter.send({ deliveryKey: `${deliveryKey}:draft`, conversationId: position.conversationId, text: shown, replyTo: this.opts.replyTo }));
        if (!sent) return;
        segment.draft = { deliveryKey, platformMessageId: sent.platformMessageId };
      }
      await saveDraft(this.opts.db, position, deliveryKey, segment.draft.platformMessageId);
    });
  }

  private markShown(): void {
    if (this.shown) return;
    this.shown = true;
    this.opts.onShown?.();
  }

  /**
   * Runs platform work in order, under the step's lease: taken (or renewed) before each operation,
   * released when the last queued one is done. Lost to a newer attempt: this stream stops.
   */
  private enqueue(op: () => Promise<void>): void {
    this.queued++;
    const guarded = async () => {
      try {
        if (this.superseded) return;
        if (!(await this.lease.take())) {
          this.stopped = this.superseded = true;
          this.opts.logger.info({ channelId: this.opts.position.channelId, step: this.opts.position.step }, 'a newer attempt streams this step; this one stops');
          return;
        }
        await op();
      } finally {
        if (--this.queued === 0) await this.lease.release();
      }
    };
    this.chain = this.chain.then(guarded).catch((err: unknown) => {
      this.opts.logger.warn({ err: (err as Error).message, channelId: this.opts.position.channelId }, 'streaming a reply failed; the final delivery will post it');
    });
  }

  /** One platform call; failures are counted, and enough of them in a row stop the stream. */
  private async platform<T>(call: () => Promise<T>): Promise<T | undefined> {
    if (this.stopped) return undefined;
    try {
      const result = await call();
      this.failures = 0;
      return result;
    } catch (err) {
      this.failures++;
      this.opts.logger.warn({ err: (err as Error).message, platform: this.opts.adapter.platform, failures: this.failures }, 'a streamed draft could not be posted or edited');
      if (this.failures >= MAX_FAILURES) this.stopped = true;
      return undefined;
    }
  }
}

/** A draft longer than one platform message shows its beginning; the final delivery posts the rest. */
function clip(text: string, max: number | undefined): string {
  return max && text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
