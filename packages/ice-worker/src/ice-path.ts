import {
  type DatagramPath,
  type DatagramPathEvents,
  listen,
  type PathCloseInfo,
  PathStats,
  TypedEmitter,
} from '@mesh/core';
import type { IceAgent } from './agent.js';
import { MAX_DATAGRAM_BYTES } from './constants.js';

/** `ice-direct` when neither candidate is relayed, `ice-turn` when the pair goes through TURN. */
export type IcePathKind = 'ice-direct' | 'ice-turn';

/**
 * The DatagramPath over one ICE session's nominated pair. Receives only what the agent delivers
 * (the agent filters by the nominated remote address). Closing it ends the ICE session: a session
 * nobody uses must not linger and swallow same-session offers.
 */
export class IcePath extends TypedEmitter<DatagramPathEvents> implements DatagramPath {
  /** Direct or through TURN. */
  readonly kind: IcePathKind;
  /** The local ICE session this path belongs to. */
  readonly sessionId: string;
  readonly #agent: IceAgent;
  readonly #unlisten: () => void;
  readonly #stats: PathStats;
  readonly #onLocalClose: () => void;
  #closed = false;

  /** @internal built by IceWorker when a session connects. */
  constructor(agent: IceAgent, kind: IcePathKind, sessionId: string, now: () => number, onLocalClose: () => void) {
    super();
    this.#agent = agent;
    this.kind = kind;
    this.sessionId = sessionId;
    this.#stats = new PathStats(now);
    this.#onLocalClose = onLocalClose;
    this.#unlisten = listen(agent, 'data', (datagram) => {
      if (this.#closed) return;
      this.#stats.rx(datagram.byteLength);
      this.emit('data', datagram);
    });
  }

  /** True once the path has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Traffic counters of the path. */
  get counters() {
    return this.#stats.snapshot();
  }

  /** Sends over the nominated pair; false once closed, when oversize, or when the agent refuses. Never throws. */
  send(datagram: Uint8Array): boolean {
    if (this.#closed || datagram.byteLength > MAX_DATAGRAM_BYTES) return false;
    let ok = false;
    try {
      ok = this.#agent.send(datagram);
    } catch {
      return false;
    }
    if (ok) this.#stats.tx(datagram.byteLength);
    return ok;
  }

  /**
   * The remote answered one of our authenticated probes on this path (PeerConn calls this on each
   * probe answer): consent evidence, so the session outlives lost STUN consent checks while the
   * path demonstrably works. Ignored once closed.
   */
  consentEvidence(): void {
    if (!this.#closed) this.#agent.consentEvidence();
  }

  /** Closes the path and ends its ICE session. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.end({ reason: 'local' });
    this.#onLocalClose();
  }

  /** @internal the worker ends the path when its session ends. */
  end(info: PathCloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unlisten();
    this.emit('close', info);
    this.removeAllListeners();
  }
}
