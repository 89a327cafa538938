export {
  type DisconnectCause,
  type RejectReason,
  SignalClient,
  type SignalClientEvents,
  type SignalClientOptions,
  type SignalClientStats,
} from './client.js';
export { NotConnectedError, SignalError, SignalErrorCodes } from './errors.js';
export * from './protocol/index.js';
export { type FreshnessVerdict, ReplayCache } from './replay-cache.js';
