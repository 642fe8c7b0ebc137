import type { StreamDelta } from '../llm/types.js';
import type { LeakGuard, LeakKind, StreamRedactor } from '../security/leak-guard.js';
import type { DeltaRouter, KeyedDelta } from './delivery-deltas.js';

/**
 * A DeltaRouter whose output has passed the leak guard: one stream redactor per delivery key, so
 * each reply's text is redacted as one text however the provider split it. What a redactor holds
 * back (a possible secret's beginning) comes out with the next delta or at `flush`.
 */
export class RedactingRouter {
  private redactors = new Map<string, StreamRedactor>();
  private reported = new Set<LeakKind>();

  constructor(
    private readonly router: DeltaRouter,
    private readonly guard: LeakGuard,
    /** Called with the kinds newly found in this stream (never the secret), to log the event. */
    private readonly onRedacted: (kinds: LeakKind[]) => void,
  ) {}

  route(delta: StreamDelta): KeyedDelta | undefined {
    const keyed = this.router.route(delta);
    if (!keyed) return undefined;
    let redactor = this.redactors.get(keyed.key);
    if (!redactor) this.redactors.set(keyed.key, (redactor = this.guard.streamRedactor()));
    return this.emit(keyed.key, redactor, redactor.push(keyed.text));
  }

  /** The stream ended: what each key still held back, redacted. */
  flush(): KeyedDelta[] {
    const out: KeyedDelta[] = [];
    for (const [key, redactor] of this.redactors) {
      const keyed = this.emit(key, redactor, redactor.flush());
      if (keyed) out.push(keyed);
    }
    return out;
  }

  /** A new attempt starts from scratch: what was held back belongs to the voided text. */
  reset(): void {
    this.router.reset();
    this.redactors = new Map();
  }

  private emit(key: string, redactor: StreamRedactor, text: string): KeyedDelta | undefined {
    const fresh = redactor.kinds.filter((kind) => !this.reported.has(kind));
    if (fresh.length) {
      for (const kind of fresh) this.reported.add(kind);
      this.onRedacted(fresh);
    }
    return text ? { key, text } : undefined;
  }
}
