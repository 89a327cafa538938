import type { DatagramPath, DatagramPathEvents, PathCloseInfo } from './datagram-path.js';
import { PathStats } from './datagram-path.js';
import { TypedEmitter } from './events.js';

/**
 * An in-memory DatagramPath: two ends joined in one process, delivering asynchronously (next
 * macrotask) like a network would. For unit tests and fakes; `setDeliver(false)` models a
 * black-holed path (sends succeed, nothing arrives), `kill(reason)` a path that dies under us.
 */
export class MemoryPath extends TypedEmitter<DatagramPathEvents> implements DatagramPath {
  /** Kind label given to `pair()`. */
  readonly kind: string;
  #peer: MemoryPath | undefined;
  #closed = false;
  #deliver = true;
  readonly #stats: PathStats;

  private constructor(kind: string, now: () => number) {
    super();
    this.kind = kind;
    this.#stats = new PathStats(now);
  }

  /** Two connected ends of a new in-memory path. */
  static pair(kind = 'memory', now: () => number = Date.now): [MemoryPath, MemoryPath] {
    const a = new MemoryPath(kind, now);
    const b = new MemoryPath(kind, now);
    a.#peer = b;
    b.#peer = a;
    return [a, b];
  }

  /** True once this end has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Traffic counters of this end. */
  get counters() {
    return this.#stats.snapshot();
  }

  /** When false, datagrams sent from this end are silently lost. */
  setDeliver(deliver: boolean): void {
    this.#deliver = deliver;
  }

  /** Delivers a copy to the other end on the next macrotask; false once closed. */
  send(datagram: Uint8Array): boolean {
    if (this.#closed) return false;
    this.#stats.tx(datagram.byteLength);
    const peer = this.#peer;
    if (!this.#deliver || !peer) return true;
    const copy = Buffer.from(datagram);
    setImmediate(() => peer.#receive(copy));
    return true;
  }

  #receive(datagram: Buffer): void {
    if (this.#closed) return;
    this.#stats.rx(datagram.byteLength);
    this.emit('data', datagram);
  }

  /** Closes this end with reason `local`. Idempotent. */
  close(): void {
    this.#end({ reason: 'local' });
  }

  /** Closes this end as if the transport failed. */
  kill(reason = 'killed', error?: Error): void {
    this.#end(error ? { reason, error } : { reason });
  }

  #end(info: PathCloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emit('close', info);
    this.removeAllListeners();
  }
}
