/**
 * Counted slots per key (or one global key): how many requests may hold an expensive resource at
 * once. `take` is synchronous and never waits: a full key is the caller's cue to answer 429, which is
 * what keeps a flood from piling up Temporal updates, SSE sockets or replay child processes.
 */
export class BoundedSlots {
  private readonly held = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** A release function when a slot was free (call it exactly once), undefined when `key` is full. */
  take(key = ''): (() => void) | undefined {
    const n = this.held.get(key) ?? 0;
    if (n >= this.max) return undefined;
    this.held.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(key) ?? 1) - 1;
      if (left <= 0) this.held.delete(key);
      else this.held.set(key, left);
    };
  }

  count(key = ''): number {
    return this.held.get(key) ?? 0;
  }

  get limit(): number {
    return this.max;
  }
}
