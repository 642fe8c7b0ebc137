/**
 * Models recently rate-limited, shared by every activity of a worker process: a model in cooldown is
 * skipped (its fallbacks answer) until its retry-after has passed. In memory only: a restarted worker
 * simply tries again, and the provider's next 429 puts the model back.
 */
export class CooldownRegistry {
  private readonly until = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Skips `model` for `ms` (extends, never shortens, a cooldown already running). */
  coolDown(model: string, ms: number): void {
    const end = this.now() + Math.max(0, ms);
    if ((this.until.get(model) ?? 0) < end) this.until.set(model, end);
  }

  /** Milliseconds until `model` may be called again; 0 when it may be called now. */
  remainingMs(model: string): number {
    const end = this.until.get(model);
    if (end === undefined) return 0;
    const left = end - this.now();
    if (left > 0) return left;
    this.until.delete(model);
    return 0;
  }

  /** Models cooling down now, with their remaining milliseconds (for logs and heartbeats). */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const model of [...this.until.keys()]) {
      const left = this.remainingMs(model);
      if (left > 0) out[model] = left;
    }
    return out;
  }
}
