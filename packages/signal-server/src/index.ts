export { CloseCodes, SignalError, SignalErrorCodes, WIRE_VERSION } from '@mesh/signal-client';
export {
  type DropReason,
  type RejectCause,
  SignalServer,
  type SignalServerEvents,
  type SignalServerOptions,
  type SignalServerStats,
  type UnregisterCause,
} from './server.js';
