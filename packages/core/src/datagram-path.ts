import type { TypedEmitter } from './events.js';

/** Why a path closed: `local` when its owner called close(); otherwise what killed it. */
export interface PathCloseInfo {
  /** `local` for the owner's close(); otherwise a short label of what killed the path. */
  reason: string;
  /** The error that killed the path, when there was one. */
  error?: Error;
}

/** Events of a DatagramPath. */
export interface DatagramPathEvents {
  /** One datagram from the remote side. */
  data: (datagram: Buffer) => void;
  /** Emitted exactly once; after it the path emits nothing and send() returns false. */
  close: (info: PathCloseInfo) => void;
}

/** Traffic counters of one DatagramPath since it opened. */
export interface PathCounters {
  /** Datagrams received. */
  rxPackets: number;
  /** Datagrams sent. */
  txPackets: number;
  /** Bytes received. */
  rxBytes: number;
  /** Bytes sent. */
  txBytes: number;
  /** Wall-clock ms of the last datagram received / sent; 0 if none. */
  lastRxAt: number;
  /** Wall-clock ms of the last datagram sent; 0 if none. */
  lastTxAt: number;
}

/**
 * A bidirectional, unreliable datagram channel to one remote peer: the ICE path, a relay conn, or
 * a plain UDP path. PeerEndpoint moves WireGuard packets over whichever path is active.
 */
export interface DatagramPath extends TypedEmitter<DatagramPathEvents> {
  /** Short kind label for logs and status, e.g. `relay`, `ice-direct`, `udp`. */
  readonly kind: string;
  /** True once the path has closed (for any reason). */
  readonly closed: boolean;
  /** Traffic counters so far. */
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

  /** Counts one received datagram of `bytes` bytes. */
  rx(bytes: number): void {
    this.rxPackets++;
    this.rxBytes += bytes;
    this.lastRxAt = this.now();
  }

  /** Counts one sent datagram of `bytes` bytes. */
  tx(bytes: number): void {
    this.txPackets++;
    this.txBytes += bytes;
    this.lastTxAt = this.now();
  }

  /** A plain copy of the counters (what `DatagramPath.counters` returns). */
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
