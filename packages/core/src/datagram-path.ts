import type { TypedEmitter } from './events.js';

/** Why a path closed: `local` when its owner called close(); otherwise what killed it. */
export interface PathCloseInfo {
  reason: string;
  error?: Error;
}

export interface DatagramPathEvents {
  /** One datagram from the remote side. */
  data: (datagram: Buffer) => void;
  /** Emitted exactly once; after it the path emits nothing and send() returns false. */
  close: (info: PathCloseInfo) => void;
}

export interface PathCounters {
  rxPackets: number;
  txPackets: number;
  rxBytes: number;
  txBytes: number;
  /** Wall-clock ms of the last datagram received / sent; 0 if none. */
  lastRxAt: number;
  lastTxAt: number;
}

/**
 * A bidirectional, unreliable datagram channel to one remote peer: the ICE path, a relay conn, or
 * a plain UDP path. PeerEndpoint moves WireGuard packets over whichever path is active.
 */
export interface DatagramPath extends TypedEmitter<DatagramPathEvents> {
  /** Short kind label for logs and status, e.g. `relay`, `ice-direct`, `udp`. */
  readonly kind: string;
  readonly closed: boolean;
  readonly counters: Readonly<PathCounters>;
  /** Queues one datagram; false when it was dropped (closed, oversize, queue full). Never throws. */
  send(datagram: Uint8Array): boolean;
  /** Idempotent. Emits `close` with reason `local` on the first call. */
  close(): void;
}

/** Mutable counters an implementation embeds and updates on every datagram. */
export class PathStats implements PathCounters {
  rxPackets = 0;
  txPackets = 0;
  rxBytes = 0;
  txBytes = 0;
  lastRxAt = 0;
  lastTxAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  rx(bytes: number): void {
    this.rxPackets++;
    this.rxBytes += bytes;
    this.lastRxAt = this.now();
  }

  tx(bytes: number): void {
    this.txPackets++;
    this.txBytes += bytes;
    this.lastTxAt = this.now();
  }

  snapshot(): PathCounters {
    return {
      rxPackets: this.rxPackets,
      txPackets: this.txPackets,
      rxBytes: this.rxBytes,
      txBytes: this.txBytes,
      lastRxAt: this.lastRxAt,
      lastTxAt: this.lastTxAt,
    };
  }
}
