export {
  ANSWER_WAIT_MS,
  CLOCK_JUMP_TOLERANCE_MS,
  CROSSED_INITIATION_WAIT_MS,
  DEVICE_REQUEST_TIMEOUT_MS,
  FIRST_HANDSHAKE_TIMEOUT_MS,
  HANDSHAKE_CHECK_INTERVAL_MS,
  HANDSHAKE_STALE_AFTER_MS,
  KEEPALIVE_TIMEOUT_MS,
  MAX_PROBE_RTT_MS,
  MAX_UDP_PAYLOAD,
  MESSAGE_COOKIE_REPLY_SIZE,
  MESSAGE_COOKIE_REPLY_TYPE,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_INITIATION_TYPE,
  MESSAGE_KEEPALIVE_SIZE,
  MESSAGE_RESPONSE_RECEIVER_INDEX_OFFSET,
  MESSAGE_RESPONSE_SIZE,
  MESSAGE_RESPONSE_TYPE,
  MESSAGE_SENDER_INDEX_OFFSET,
  MESSAGE_TRANSPORT_HEADER_SIZE,
  MESSAGE_TRANSPORT_TAG_SIZE,
  MESSAGE_TRANSPORT_TYPE,
  PROBE_INTERVAL_MS,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_TIME_MS,
  REKEY_ATTEMPT_TIME_MS,
  REKEY_TIMEOUT_MS,
  TRAFFIC_TRUST_WINDOW_MS,
  TRUST_WINDOW_MS,
  UAPI_MAX_BATCHED_WRITES,
} from './constants.js';
export {
  generateKeyPair,
  type NormalizedPeerConfig,
  publicKeyFromPrivate,
  validateCidr,
  validateEndpoint,
  validatePeerConfig,
  type WgDevice,
  type WgInterfaceState,
  type WgOpOptions,
  type WgPeerConfig,
  type WgPeerState,
} from './device.js';
export {
  errnoName,
  WgCommandError,
  WgDeviceNotRunningError,
  WgErrnoError,
  WgErrorCodes,
  WgIoError,
  WgProtocolError,
} from './errors.js';
export {
  type HandshakeInfo,
  type HandshakeTimeoutInfo,
  type HandshakeTimeoutReason,
  HandshakeWatcher,
  type HandshakeWatcherEvents,
  type HandshakeWatcherOptions,
  type State as HandshakeWatcherState,
} from './handshake-watcher.js';
export {
  type PathStatus,
  PeerEndpoint,
  type PeerEndpointDrops,
  type PeerEndpointEvents,
  type PeerEndpointOptions,
  type PeerEndpointStats,
} from './peer-endpoint.js';
export { isProbe, isWireGuardMessage, PROBE_SIZE } from './probe.js';
export type { RequestQueueStats } from './request-queue.js';
export { parseGetReply, UapiDevice, type UapiDeviceOptions } from './uapi.js';
export { UdpPath, type UdpPathOptions } from './udp-path.js';
export { parseWgDump, WgCliDevice, type WgCliDeviceOptions } from './wg-cli.js';
