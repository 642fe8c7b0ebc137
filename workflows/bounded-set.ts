/**
 * An insertion-ordered set that forgets its oldest members past a limit. Used for message-id
 * deduplication, which must survive continue-as-new without growing the carried state forever.
 */
export class BoundedSet {
  private readonly items: Set<string>;

  constructor(
    initial: readonly string[],
    private readonly limit: number,
  ) {
    this.items = new Set(initial.slice(-limit));
  }

  has(item: string): boolean {
    return this.items.has(item);
  }

  add(item: string): void {
    this.items.add(item);
    while (this.items.size > this.limit) {
      const oldest = this.items.values().next().value;
      if (oldest === undefined) break;
      this.items.delete(oldest);
    }
  }

  toArray(): string[] {
    return [...this.items];
  }
}
