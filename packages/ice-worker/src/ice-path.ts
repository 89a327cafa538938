import { type DatagramPath, type DatagramPathEvents, type PathCloseInfo, PathStats } from '@mesh/core';
import { EventEmitter } from 'eventemitter3';
import type { IceAgent } from './agent.js';

export type IcePathKind = 'ice-direct' | 'ice-turn';

/** Largest UDP payload over IPv4; anything bigger cannot be sent as one datagram. */
const MAX_DATAGRAM = 65_507;

/**
 * The DatagramPath over one ICE session's nominated pair. Receives only what the agent delivers
 * (the agent filters by the nominated remote address). Closing it ends the ICE session: a session
 * nobody uses must not linger and swallow same-session offers.
 */
export class IcePath extends EventEmitter<DatagramPathEvents> implements DatagramPath {
  readonly kind: IcePathKind;
  readonly sessionId: string;
  readonly #agent: IceAgent;
  readonly #stats: PathStats;
  readonly #onLocalClose: () => void;
  #closed = false;
  readonly #onData = (datagram: Buffer) => {
    if (this.#closed) return;
    this.#stats.rx(datagram.byteLength);
    this.emit('data', datagram);
  };

  /** @internal built by IceWorker when a session connects. */
  constructor(agent: IceAgent, kind: IcePathKind, sessionId: string, now: () => number, onLocalClose: () => void) {
    super();
    this.#agent = agent;
    this.kind = kind;
    this.sessionId = sessionId;
    this.#stats = new PathStats(now);
    this.#onLocalClose = onLocalClose;
    agent.on('data', this.#onData);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get counters() {
    return this.#stats.snapshot();
  }

  send(datagram: Uint8Array): boolean {
    if (this.#closed || datagram.byteLength > MAX_DATAGRAM) return false;
    let ok = false;
    try {
      ok = this.#agent.send(datagram);
    } catch {
      return false;
    }
    if (ok) this.#stats.tx(datagram.byteLength);
    return ok;
  }

  close(): void {
    if (this.#closed) return;
    this.end({ reason: 'local' });
    this.#onLocalClose();
  }

  /** @internal the worker ends the path when its session ends. */
  end(info: PathCloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#agent.off('data', this.#onData);
    this.emit('close', info);
    this.removeAllListeners();
  }
}
