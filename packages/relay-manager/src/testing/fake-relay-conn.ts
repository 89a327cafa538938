import {
  type Clock,
  ClosedError,
  type DatagramPath,
  type DatagramPathEvents,
  type PathCloseInfo,
  PathStats,
  type PeerKey,
  TypedEmitter,
} from '@mesh/core';
import type { FakeRelayClient } from './fake-relay.js';

/** One per-peer entry of a FakeRelayClient: a DatagramPath routed through the fake server. */
export class FakeRelayConn extends TypedEmitter<DatagramPathEvents> implements DatagramPath {
  /** Always `relay`. */
  readonly kind = 'relay';
  /** The remote peer of this entry. */
  readonly peer: PeerKey;
  /** @internal Set once the remote was online and `openConn` resolved. */
  opened = false;
  /**
   * A dead entry the client still holds (NetBird F-R-1): sends "succeed", nothing is routed either
   * way, and nobody is told. Only closing the entry and opening a new one cures it.
   */
  stalled = false;
  readonly #client: FakeRelayClient;
  readonly #stats: PathStats;
  readonly #wait = new AbortController();
  #closed = false;

  constructor(client: FakeRelayClient, peer: PeerKey, clock: Clock) {
    super();
    this.#client = client;
    this.peer = peer;
    this.#stats = new PathStats(() => clock.now());
  }

  /** @internal Aborts a pending online wait when the entry goes away. */
  get waitSignal(): AbortSignal {
    return this.#wait.signal;
  }

  /** True once the conn has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Traffic counters of the conn. */
  get counters() {
    return this.#stats.snapshot();
  }

  /** Routes one datagram to the peer through the fake server; false when closed or not open yet. */
  send(datagram: Uint8Array): boolean {
    if (this.#closed || !this.opened) return false;
    this.#stats.tx(datagram.byteLength);
    if (this.stalled) return true;
    this.#client._send(this.peer, Buffer.from(datagram));
    return true;
  }

  /** Closes the conn and removes the client's entry. Idempotent. */
  close(): void {
    this.#client._removeConn(this);
    this._end({ reason: 'local' });
  }

  /** @internal */
  _deliver(datagram: Buffer): void {
    if (this.#closed || this.stalled) return;
    this.#stats.rx(datagram.byteLength);
    this.emit('data', datagram);
  }

  /** @internal */
  _end(info: PathCloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wait.abort(new ClosedError(`relay conn closed (${info.reason})`));
    this.emit('close', info);
    this.removeAllListeners();
  }
}
