import { type Clock, ClosedError, type PeerKey, type Signaler, type SignalerEvents, TypedEmitter } from '@mesh/core';
import { seededRandom } from '@mesh/core/testing';
import type { SignalMessage } from '../messages.js';

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
  faults: SignalFaults = {};
  #partitioned = false;
  readonly stats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };

  constructor(options: { clock: Clock; latencyMs?: number; seed?: number }) {
    this.#clock = options.clock;
    this.#latencyMs = options.latencyMs ?? 5;
    this.#random = seededRandom(options.seed ?? 1);
  }

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

export class MemorySignaler extends TypedEmitter<SignalerEvents> implements Signaler<SignalMessage> {
  readonly key: PeerKey;
  readonly #hub: MemorySignalHub;
  closed = false;

  constructor(key: PeerKey, hub: MemorySignalHub) {
    super();
    this.key = key;
    this.#hub = hub;
  }

  async send(to: PeerKey, message: SignalMessage): Promise<void> {
    if (this.closed) throw new ClosedError('signaler is closed');
    this.#hub.route(this.key, to, message);
  }

  close(): void {
    this.closed = true;
    this.removeAllListeners();
  }
}
