import type { PeerKey } from '@mesh/core';
import type { SignalMessage } from './messages.js';

export interface SignalerEvents {
  /** A message from `from`, not yet validated (PeerConn parses it with parseSignalMessage). */
  message: (from: PeerKey, message: unknown) => void;
}

/**
 * Carries offers, answers and candidates between two peers. Delivery may drop, duplicate and
 * reorder: PeerConn is built to converge anyway. `send` resolves once the message is handed to
 * the transport, and rejects (it never throws synchronously) when it could not be.
 * Any emitter with a `message` event fits (an eventemitter3 class may have more events).
 * Optionally it emits `connected` (any arguments) whenever its transport (re)connects: offers sent
 * while it was down were lost, so a PeerConn still negotiating offers again at once instead of
 * waiting out its retry ladder. One that never emits it only loses that prompt re-offer.
 */
export interface Signaler {
  send(to: PeerKey, message: SignalMessage, options?: { signal?: AbortSignal }): Promise<void>;
  on(event: 'message', listener: SignalerEvents['message']): unknown;
  off(event: 'message', listener: SignalerEvents['message']): unknown;
}
