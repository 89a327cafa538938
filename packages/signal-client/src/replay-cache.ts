/** What ReplayCache.check() says of a message: accept it, or drop it as stale or as a replay. */
export type FreshnessVerdict = 'fresh' | 'stale' | 'replay';

/**
 * Remembers the ids of accepted messages for as long as their timestamp is inside the freshness
 * window; anything older fails the window check anyway, so the cache never needs to be larger than
 * the traffic of one window. It is bounded all the same: when full, the oldest entry is evicted and
 * its timestamp becomes a floor below which every message is refused — bounded memory without
 * reopening a replay hole. Expired entries raise the floor too, so a wall clock stepping backwards
 * cannot make an expired id acceptable again.
 */
export class ReplayCache {
  readonly #windowMs: number;
  readonly #maxEntries: number;
  /** id → timestamp, in insertion order. */
  readonly #seen = new Map<string, number>();
  #floor = Number.NEGATIVE_INFINITY;

  constructor(options: { windowMs: number; maxEntries: number }) {
    this.#windowMs = options.windowMs;
    this.#maxEntries = options.maxEntries;
  }

  /** Number of message ids remembered. */
  get size(): number {
    return this.#seen.size;
  }

  /** Checks a message and, when fresh, records it. `now` is the receiver's wall clock. */
  check(id: string, timestamp: number, now: number): FreshnessVerdict {
    this.#expire(now);
    if (Math.abs(now - timestamp) > this.#windowMs || timestamp <= this.#floor) return 'stale';
    if (this.#seen.has(id)) return 'replay';
    if (this.#seen.size >= this.#maxEntries) this.#evictOldest();
    this.#seen.set(id, timestamp);
    return 'fresh';
  }

  #expire(now: number): void {
    // Insertion order is only roughly timestamp order (senders' clocks differ), so this stops at
    // the first live entry; later expired ones go on a following call or by eviction.
    for (const [id, ts] of this.#seen) {
      if (ts >= now - this.#windowMs) break;
      this.#seen.delete(id);
      this.#floor = Math.max(this.#floor, ts);
    }
  }

  #evictOldest(): void {
    const first = this.#seen.entries().next().value;
    if (!first) return;
    this.#seen.delete(first[0]);
    this.#floor = Math.max(this.#floor, first[1]);
  }
}
