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
export { IcePath, type IcePathKind } from './ice-path.js';
export {
  type IceConnectedInfo,
  type IceDisconnectedInfo,
  type IceEndReason,
  type IceSessionRotatedInfo,
  IceWorker,
  type IceWorkerEvents,
  type IceWorkerOptions,
} from './ice-worker.js';
export { WeriftIceAgent, weriftAgentFactory } from './werift-agent.js';
export {
  IceAgentError,
  IceBadMessageError,
  type IceCandidateMessage,
  type IceCredentials,
  type IceDescription,
  IceErrorCodes,
  isSessionId,
  newLocalSession,
  newSessionId,
  parseCandidateMessage,
  parseDescription,
} from './wire.js';
