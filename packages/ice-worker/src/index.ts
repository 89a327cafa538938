export { AddressFilter } from './address-filter.js';
export type {
  CandidateAddress,
  CandidateType,
  HostPort,
  IceAgent,
  IceAgentConfig,
  IceAgentEvents,
  IceAgentFactory,
  IceAgentState,
  SelectedPair,
  TurnServerConfig,
} from './agent.js';
export { ConsentKeeper, type ConsentKeeperOptions, type ConsentState, consentHolds } from './consent.js';
export {
  CANDIDATE_BUFFER_MAX,
  CANDIDATE_BUFFER_TTL_MS,
  CONNECT_TIMEOUT_MS,
  CONSENT_CHECK_MS,
  CONSENT_TIMEOUT_MS,
  DEAD_SESSIONS_REMEMBERED,
  MAX_DATAGRAM_BYTES,
  STUN_TIMEOUT_MS,
} from './constants.js';
export { IcePath, type IcePathKind } from './ice-path.js';
export {
  type IceConnectedInfo,
  type IceDisconnectedInfo,
  type IceEndReason,
  type IceSessionRotatedInfo,
  IceWorker,
  type IceWorkerEvents,
} from './ice-worker.js';
export type { IceWorkerOptions } from './ice-worker-options.js';
export { WeriftIceAgent, weriftAgentFactory } from './werift-agent.js';
export {
  IceAgentError,
  IceBadMessageError,
  type IceCandidateMessage,
  type IceCredentials,
  type IceDescription,
  IceErrorCodes,
  isSessionId,
  type LocalSession,
  newLocalSession,
  newSessionId,
  parseCandidateMessage,
  parseDescription,
} from './wire.js';
