import type { PeerKey } from '@mesh/core';
import { EarlyMessageBuffer } from './early-buffer.js';
import type { PeerId } from './protocol/peer-id.js';
import type { RelayConn, RelayConnCloseReason } from './relay-conn.js';

export interface ConnEntry {
  conn: RelayConn;
  /** Set while openConn waits for the peer to come online. */
  waiter?: { resolve: () => void; reject: (err: Error) => void };
}

/**
 * A client's per-peer entries (open or opening) by peer id, the keys of the peers it subscribed to
 * (bounded, so notifications can name the key), and the early messages for peers without an entry.
 */
export class ConnTable {
  readonly #entries = new Map<string, ConnEntry>();
  readonly #known = new Map<string, PeerKey>();
  readonly #early: EarlyMessageBuffer;
  readonly #maxKnown: number;

  constructor(early: { ttlMs: number; maxPeers: number; now: () => number }, maxKnown: number) {
    this.#early = new EarlyMessageBuffer(early.ttlMs, early.maxPeers, early.now);
    this.#maxKnown = maxKnown;
  }

  /** Early messages and conn-level drops. */
  get earlyDropped(): number {
    return this.#early.dropped;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(id: PeerId): ConnEntry | undefined {
    return this.#entries.get(id.key);
  }

  has(id: PeerId): boolean {
    return this.#entries.has(id.key);
  }

  /** Adds the entry, remembers the key and hands the conn the early message waiting for it. */
  add(id: PeerId, key: PeerKey, entry: ConnEntry): void {
    this.#entries.set(id.key, entry);
    this.#known.delete(id.key);
    this.#known.set(id.key, key);
    if (this.#known.size > this.#maxKnown) {
      const oldest = this.#known.keys().next().value;
      if (oldest !== undefined) this.#known.delete(oldest);
    }
    const early = this.#early.pop(id.key);
    if (early) entry.conn.deliver(early);
  }

  /** Removes `entry` if it is still the one for `id`; true when it was. */
  remove(id: PeerId, entry: ConnEntry): boolean {
    if (this.#entries.get(id.key) !== entry) return false;
    this.#entries.delete(id.key);
    return true;
  }

  /** Removes and returns the entry for `id`. */
  take(id: PeerId): ConnEntry | undefined {
    const entry = this.#entries.get(id.key);
    if (entry) this.#entries.delete(id.key);
    return entry;
  }

  /** The key of a peer we subscribed to. */
  keyOf(id: PeerId): PeerKey | undefined {
    return this.#known.get(id.key);
  }

  /** The open conns (entries still waiting for their peer are not included). */
  openConns(): RelayConn[] {
    return [...this.#entries.values()].filter((e) => !e.waiter).map((e) => e.conn);
  }

  /** A payload from `id`: to its conn, or kept as an early message. */
  deliver(id: PeerId, payload: Buffer): void {
    const entry = this.#entries.get(id.key);
    if (entry) entry.conn.deliver(payload);
    else this.#early.put(id.key, payload);
  }

  /** Empties the table and finishes every entry (waiters reject with `error`). */
  clear(reason: RelayConnCloseReason, error: Error): void {
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    this.#early.clear();
    this.#known.clear();
    for (const e of entries) finishEntry(e, reason, error);
  }
}

/** Ends an entry: an opening one's `openConn` rejects with `error`, an open conn closes. */
export function finishEntry(entry: ConnEntry, reason: RelayConnCloseReason, error: Error): void {
  if (entry.waiter) entry.waiter.reject(error);
  else entry.conn.end(reason === 'relay-disconnected' ? { reason, error } : { reason });
}
