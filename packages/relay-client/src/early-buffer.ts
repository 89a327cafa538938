/**
 * Holds the newest transport payload per peer that arrived before `openConn` for that peer
 * (NetBird: 1 message per peer, 5 s TTL, 10,000 peers). Expiry is lazy, so no timer exists.
 */
export class EarlyMessageBuffer {
  readonly #entries = new Map<string, { payload: Buffer; at: number }>();
  /** Payloads dropped so far: replaced by a newer one, or refused because `maxPeers` were waiting. */
  dropped = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxPeers: number,
    private readonly now: () => number,
  ) {}

  /** Number of peers with a waiting payload (expired ones included until the next put). */
  get size(): number {
    return this.#entries.size;
  }

  /** Keeps `payload` as the newest early message of peer `key` (replacing an older one). */
  put(key: string, payload: Buffer): void {
    const now = this.now();
    this.#expire(now);
    if (this.#entries.delete(key)) this.dropped++;
    else if (this.#entries.size >= this.maxPeers) {
      this.dropped++;
      return;
    }
    this.#entries.set(key, { payload, at: now });
  }

  /** Takes peer `key`'s waiting payload, if any and not expired. */
  pop(key: string): Buffer | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    this.#entries.delete(key);
    return this.now() - e.at <= this.ttlMs ? e.payload : undefined;
  }

  /** Drops everything waiting. */
  clear(): void {
    this.#entries.clear();
  }

  /** Entries are in insertion order (a re-put moves to the end), so expired ones are at the front. */
  #expire(now: number): void {
    for (const [key, e] of this.#entries) {
      if (now - e.at <= this.ttlMs) return;
      this.#entries.delete(key);
      this.dropped++;
    }
  }
}
