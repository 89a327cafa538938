import { type Clock, ClosedError, type PeerKey, type Signaler, type SignalerEvents, TypedEmitter } from '@mesh/core';
import { seededRandom } from '@mesh/core/testing';
import type { SignalMessage } from '../messages.js';

/** Faults a MemorySignalHub applies to every message. */
export interface SignalFaults {
  /** Probability that a message is lost. */
  dropRate?: number;
  /** Probability that a message is delivered twice. */
  duplicateRate?: number;
  /** Each delivery is delayed by latencyMs plus a uniform extra in [0, reorderMs): reorders messages. */
  reorderMs?: number;
}

/**
 * An in-memory signaling network on an injected clock. Messages are copied through JSON (as on a
 * real wire) and delivered after `latencyMs`; faults drop, duplicate and reorder them, and
 * `partition()` cuts the network entirely.
 */
export class MemorySignalHub {
  readonly #clock: Clock;
  readonly #latencyMs: number;
  readonly #random: () => number;
  readonly #members = new Map<string, MemorySignaler>();
  /** Faults applied from now on (assign to change them mid-test). */
  faults: SignalFaults = {};
  #partitioned = false;
  /** Messages sent, delivered, dropped and duplicated so far. */
  readonly stats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };

  constructor(options: { clock: Clock; latencyMs?: number; seed?: number }) {
    this.#clock = options.clock;
    this.#latencyMs = options.latencyMs ?? 5;
    this.#random = seededRandom(options.seed ?? 1);
  }

  /** A new member with `key`: a Signaler for that peer. */
  signaler(key: PeerKey): MemorySignaler {
    const s = new MemorySignaler(key, this);
    this.#members.set(key.base64, s);
    return s;
  }

  /** Cuts (true) or heals (false) the whole network; healing emits `connected` on every member, as a reconnecting transport does. */
  partition(on: boolean): void {
    const healed = this.#partitioned && !on;
    this.#partitioned = on;
    if (healed) for (const m of this.#members.values()) if (!m.closed) m.emit('connected');
  }

  /** @internal */
  route(from: PeerKey, to: PeerKey, message: SignalMessage): void {
    this.stats.sent++;
    const f = this.faults;
    if (this.#partitioned || this.#random() < (f.dropRate ?? 0)) {
      this.stats.dropped++;
      return;
    }
    const copies = this.#random() < (f.duplicateRate ?? 0) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    const wire = JSON.stringify(message);
    for (let i = 0; i < copies; i++) {
      const delay = this.#latencyMs + (f.reorderMs ? this.#random() * f.reorderMs : 0);
      this.#clock.setTimeout(() => {
        const target = this.#members.get(to.base64);
        if (!target || target.closed) return;
        this.stats.delivered++;
        target.emit('message', from, JSON.parse(wire));
      }, delay);
    }
  }
}

/** One peer's Signaler on a MemorySignalHub. */
export class MemorySignaler extends TypedEmitter<SignalerEvents> implements Signaler<SignalMessage> {
  /** The peer this signaler sends for. */
  readonly key: PeerKey;
  readonly #hub: MemorySignalHub;
  /** True after close(); send() then rejects with ERR_CLOSED. */
  closed = false;

  constructor(key: PeerKey, hub: MemorySignalHub) {
    super();
    this.key = key;
    this.#hub = hub;
  }

  /** Hands the message to the hub; rejects with ERR_CLOSED after close(). */
  async send(to: PeerKey, message: SignalMessage): Promise<void> {
    if (this.closed) throw new ClosedError('signaler is closed');
    this.#hub.route(this.key, to, message);
  }

  /** Leaves the hub: nothing more is delivered to this member. */
  close(): void {
    this.closed = true;
    this.removeAllListeners();
  }
}
