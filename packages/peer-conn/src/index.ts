/** Moved to `@mesh/core`; re-exported so existing imports keep working. */
export type { Signaler, SignalerEvents } from '@mesh/core';
export { QUALITY } from './constants.js';
export { PeerConnErrorCodes, SignalMessageError } from './errors.js';
export { Guard, type GuardOptions } from './guard.js';
export {
  type CandidateMessage,
  type Capability,
  type IceOfferPart,
  LOCAL_CAPABILITIES,
  type OfferMessage,
  parseSignalMessage,
  type RelayOfferPart,
  SIGNAL_PROTOCOL_VERSION,
  type SignalMessage,
} from './messages.js';
export {
  followsRemoteToRelay,
  type QualityCondition,
  QualityGate,
  type QualitySample,
  type QualitySwitch,
  qualityCondition,
} from './parts/quality.js';
export { PeerConn } from './peer-conn.js';
export {
  type DevicePort,
  type HostNetworkChange,
  PATH_PRIORITY,
  type PathChangedInfo,
  type PathKind,
  type PeerConnCounters,
  type PeerConnEvents,
  type PeerConnOptions,
  type PeerConnStatus,
  type RelayPort,
} from './types.js';
