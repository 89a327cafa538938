export { EarlyMessageBuffer } from './early-buffer.js';
export {
  ConnAlreadyExistsError,
  PeerNotOnlineError,
  RelayAuthError,
  RelayConnectError,
  RelayDisconnectedError,
  RelayNotConnectedError,
} from './errors.js';
export type { RelayClientEvents, RelayDisconnectCause, RelayPeerEvent } from './events.js';
export type { RelayClientOptions, RelayTokenSource } from './options.js';
export * from './protocol/index.js';
export { RelayClient } from './relay-client.js';
export { RelayConn, type RelayConnCloseReason, type RelayConnOwner } from './relay-conn.js';
export { relayWebSocketUrl } from './url.js';
