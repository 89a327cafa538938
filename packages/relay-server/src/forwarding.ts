import { transportPeerKey } from '@mesh/relay-client';
import type { DropCause, MetricsRegistry } from './metrics.js';
import type { PeerRegistry } from './registry.js';
import type { Session } from './session.js';

/**
 * Forwards transport frames between routed sessions. Never waits on a receiver: a destination's
 * unsent bytes are bounded and excess transport is dropped and counted (F-R-16).
 */
export class Forwarder {
  /** Fault injection: pairs (by id key) whose transport is dropped both ways. */
  readonly #stalled = new Set<string>();

  constructor(
    private readonly registry: PeerRegistry,
    private readonly metrics: MetricsRegistry,
    private readonly maxBufferedBytes: number,
  ) {}

  forward(s: Session, frame: Buffer): void {
    const dropped = this.#route(s, frame);
    if (dropped) this.metrics.drop(dropped);
  }

  stall(a: string, b: string): void {
    this.#stalled.add(pairKey(a, b));
  }

  unstall(a: string, b: string): void {
    this.#stalled.delete(pairKey(a, b));
  }

  clearStalls(): void {
    this.#stalled.clear();
  }

  /** Forwards one transport frame; returns why it was dropped, if it was. */
  #route(s: Session, frame: Buffer): DropCause | undefined {
    if (s.blackholed) return 'fault-dropped';
    const destKey = transportPeerKey(frame);
    const dest = this.registry.get(destKey);
    if (!dest) return 'no-route';
    if (this.#stalled.size > 0 && this.#stalled.has(pairKey(s.id.key, destKey))) return 'fault-stall';
    if (dest.ws.bufferedAmount + frame.length > this.maxBufferedBytes) return 'queue-full';
    // The id field becomes the source id; ws hands us a private buffer per message.
    s.id.bytes.copy(frame, 2);
    dest.ws.send(frame, { binary: true });
    this.metrics.messagesForwarded++;
    this.metrics.bytesForwarded += frame.length;
    return undefined;
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}${b}` : `${b}${a}`;
}
