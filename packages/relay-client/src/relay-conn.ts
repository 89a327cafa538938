import {
  type DatagramPath,
  type DatagramPathEvents,
  type PathCloseInfo,
  type PathCounters,
  PathStats,
  type PeerKey,
  TypedEmitter,
} from '@mesh/core';
import { MAX_TRANSPORT_PAYLOAD } from './protocol/constants.js';
import type { PeerId } from './protocol/peer-id.js';

/** Why a RelayConn closed (`close` event `reason`). */
export type RelayConnCloseReason =
  /** `conn.close()`. */
  | 'local'
  /** The server said the remote peer went offline. */
  | 'peer-offline'
  /** `client.closeConnByPeerKey()`. */
  | 'closed-by-key'
  /** The client's server connection died (`error` is a RelayDisconnectedError). */
  | 'relay-disconnected'
  /** `client.close()`. */
  | 'client-closed';

/** What a RelayConn needs from its RelayClient. */
export interface RelayConnOwner {
  /** Sends one payload to `peerId`; false when dropped (disconnected, backpressure). */
  write(peerId: PeerId, payload: Uint8Array): boolean;
  /** Removes the conn's entry (if it is still the current one) and unsubscribes. */
  release(conn: RelayConn): void;
}

/**
 * One remote peer through one relay server: a DatagramPath of kind `relay`. Created only by
 * `RelayClient.openConn`. Delivery is synchronous once open; while the conn is being opened (and until
 * the turn after `openConn` resolves, so the caller can attach listeners) up to `receiveQueueSize`
 * payloads wait, beyond that they are dropped and counted in `rxDropped`.
 */
export class RelayConn extends TypedEmitter<DatagramPathEvents> implements DatagramPath {
  /** Always `relay`. */
  readonly kind = 'relay';
  /** The remote peer's WireGuard public key. */
  readonly peerKey: PeerKey;
  /** The remote peer's relay peer id. */
  readonly peerId: PeerId;
  /** The relay server's instance URL (what offers advertise). */
  readonly serverUrl: string;
  /** Payloads dropped on receive (queue full while opening). */
  rxDropped = 0;
  /** Payloads refused by send() (oversize, backpressure, closed). */
  txDropped = 0;
  readonly #owner: RelayConnOwner;
  readonly #stats: PathStats;
  readonly #queueSize: number;
  #queue: Buffer[] | undefined = [];
  #closed = false;

  /** @internal */
  constructor(init: {
    owner: RelayConnOwner;
    peerKey: PeerKey;
    peerId: PeerId;
    serverUrl: string;
    receiveQueueSize: number;
    now: () => number;
  }) {
    super();
    this.#owner = init.owner;
    this.peerKey = init.peerKey;
    this.peerId = init.peerId;
    this.serverUrl = init.serverUrl;
    this.#queueSize = init.receiveQueueSize;
    this.#stats = new PathStats(init.now);
  }

  /** True once the conn has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Traffic counters of the conn. */
  get counters(): Readonly<PathCounters> {
    return this.#stats.snapshot();
  }

  /** Sends one payload to the peer through the server; false when dropped (counted in `txDropped`). Never throws. */
  send(datagram: Uint8Array): boolean {
    if (this.#closed || !(datagram instanceof Uint8Array) || datagram.length > MAX_TRANSPORT_PAYLOAD) {
      this.txDropped++;
      return false;
    }
    if (!this.#owner.write(this.peerId, datagram)) {
      this.txDropped++;
      return false;
    }
    this.#stats.tx(datagram.length);
    return true;
  }

  /** Closes the conn and removes its entry from the client. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#owner.release(this);
    this.end({ reason: 'local' });
  }

  /** @internal A payload from the remote peer. */
  deliver(payload: Buffer): void {
    if (this.#closed) return;
    if (this.#queue) {
      if (this.#queue.length >= this.#queueSize) this.rxDropped++;
      else this.#queue.push(payload);
      return;
    }
    this.#stats.rx(payload.length);
    this.emit('data', payload);
  }

  /** @internal openConn resolved: flush what waited, on the next turn (after the caller's listeners). */
  open(): void {
    setImmediate(() => {
      const queued = this.#queue ?? [];
      this.#queue = undefined;
      for (const payload of queued) this.deliver(payload);
    });
  }

  /** @internal Closes without touching the owner's table (the owner already removed the entry). */
  end(info: PathCloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = undefined;
    this.emit('close', info);
    this.removeAllListeners();
  }
}
