import type { PeerKey } from '@mesh/core';
import type { SignalMessage } from './messages.js';

export interface SignalerEvents {
  /** A message from `from`, not yet validated (PeerConn parses it with parseSignalMessage). */
  message: (from: PeerKey, message: unknown) => void;
  /**
   * Optional: the transport (re)connected. Offers sent while it was down were lost, so a PeerConn
   * still negotiating offers again at once instead of waiting for its retry ladder.
   */
  connected: () => void;
}

/**
 * Carries offers, answers and candidates between two peers. Delivery may drop, duplicate and
 * reorder: PeerConn is built to converge anyway. `send` resolves once the message is handed to
 * the transport, and rejects (it never throws synchronously) when it could not be.
 * Any emitter with a `message` event fits (an eventemitter3 class may have more events); one
 * that never emits `connected` only loses the prompt re-offer after a signaling outage.
 */
export interface Signaler {
  send(to: PeerKey, message: SignalMessage, options?: { signal?: AbortSignal }): Promise<void>;
  on(event: 'message', listener: SignalerEvents['message']): unknown;
  on(event: 'connected', listener: SignalerEvents['connected']): unknown;
  off(event: 'message', listener: SignalerEvents['message']): unknown;
  off(event: 'connected', listener: SignalerEvents['connected']): unknown;
}
