export {
  type DisconnectCause,
  type RejectReason,
  SignalClient,
  type SignalClientEvents,
  type SignalClientOptions,
  type SignalClientStats,
} from './client.js';
export { NotConnectedError, SignalError, SignalErrorCodes } from './errors.js';
export {
  type DropReason,
  type RejectCause,
  SignalServer,
  type SignalServerEvents,
  type SignalServerOptions,
  type SignalServerStats,
  type UnregisterCause,
} from './server.js';
export { CloseCodes, WIRE_VERSION } from './wire.js';
