import type { PeerKey } from '@mesh/core';
import type { EventEmitter } from 'eventemitter3';
import type { SignalMessage } from './messages.js';

export interface SignalerEvents {
  /** A message from `from`, not yet validated (PeerConn parses it with parseSignalMessage). */
  message: (from: PeerKey, message: unknown) => void;
}

/**
 * Carries offers, answers and candidates between two peers. Delivery may drop, duplicate and
 * reorder: PeerConn is built to converge anyway. `send` resolves once the message is handed to
 * the transport, and rejects (it never throws synchronously) when it could not be.
 */
export interface Signaler extends EventEmitter<SignalerEvents> {
  send(to: PeerKey, message: SignalMessage, options?: { signal?: AbortSignal }): Promise<void>;
}
