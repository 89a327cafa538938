export { EarlyMessageBuffer } from './early-buffer.js';
export {
  ConnAlreadyExistsError,
  PeerNotOnlineError,
  RelayAuthError,
  RelayConnectError,
  RelayDisconnectedError,
  RelayNotConnectedError,
} from './errors.js';
export * from './protocol/index.js';
export {
  RelayClient,
  type RelayClientEvents,
  type RelayClientOptions,
  type RelayDisconnectCause,
  type RelayPeerEvent,
  type RelayTokenSource,
} from './relay-client.js';
export { RelayConn, type RelayConnCloseReason, type RelayConnOwner } from './relay-conn.js';
export { relayWebSocketUrl } from './url.js';
