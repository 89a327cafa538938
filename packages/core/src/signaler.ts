import type { Subscribable } from './events.js';
import type { PeerKey } from './peer-key.js';

/** Events of a Signaler. */
export interface SignalerEvents {
  /** A message from `from`, not yet validated (the receiver parses it). */
  message: (from: PeerKey, message: unknown) => void;
  /**
   * Optional: the transport (re)connected. Messages sent while it was down were lost, so a peer
   * still negotiating offers again at once instead of waiting out its retry ladder. A signaler
   * that never emits it only loses that prompt re-offer.
   */
  connected: () => void;
}

/**
 * Carries offers, answers and candidates between two peers. Delivery may drop, duplicate and
 * reorder: its users are built to converge anyway. `send` resolves once the message is handed to
 * the transport, and rejects (it never throws synchronously) when it could not be. Any
 * `TypedEmitter` whose map has these events fits (it may have more).
 */
export interface Signaler<M = unknown> extends Subscribable<SignalerEvents> {
  /** Hands `message` for peer `to` to the transport; rejects when it could not. */
  send(to: PeerKey, message: M, options?: { signal?: AbortSignal }): Promise<void>;
}
