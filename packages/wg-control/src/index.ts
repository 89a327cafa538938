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
} from './handshake-watcher.js';
export {
  MAX_UDP_PAYLOAD,
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
