import type { PeerKey } from '@mesh/core';
import type { PeerId } from './protocol/peer-id.js';

/** Why the server connection ended. */
export type RelayDisconnectCause =
  /** The server sent a close message (graceful shutdown). */
  | 'server-close'
  /** The socket closed or failed. */
  | 'socket-closed'
  /** No health check within the watchdog window. */
  | 'healthcheck-timeout'
  /** A WebSocket ping got no answer (nor anything else) within `keepalive.pongTimeoutMs`: half-open. */
  | 'ping-timeout'
  /** The server sent something this client cannot accept. */
  | 'protocol-error';

/** A subscribed peer's presence changed on the server. */
export interface RelayPeerEvent {
  /** The peer's WireGuard public key. */
  peerKey: PeerKey;
  /** The peer's relay peer id. */
  peerId: PeerId;
}

/** Events of a RelayClient. */
export interface RelayClientEvents {
  /**
   * The server connection was lost (not emitted for `close()`). Every conn has already closed with
   * reason `relay-disconnected`. The client is finished: a new one must be made to reconnect.
   */
  disconnected: (info: { cause: RelayDisconnectCause; error?: Error }) => void;
  /** The server reported a subscribed peer online. */
  'peer-online': (info: RelayPeerEvent) => void;
  /** The server reported a subscribed peer offline; its conn (if any) is already closed and removed. */
  'peer-offline': (info: RelayPeerEvent) => void;
}
