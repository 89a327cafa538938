import { MeshError } from '@mesh/core';

/**
 * Stable codes of the errors `SignalClient` and `SignalServer` (@mesh/signal-server) throw or reject
 * with. Besides these, `send` rejects with core's `ERR_CLOSED` (client stopped) and `ERR_ABORTED`
 * (the caller's signal), and constructors throw `ERR_INVALID_KEY` / `ERR_INVALID_ARGUMENT`.
 */
export const SignalErrorCodes = {
  /** `send` while the client is not registered with a server (PeerConn's guard retries later). */
  NOT_CONNECTED: 'ERR_SIGNAL_NOT_CONNECTED',
  /** The sealed frame would exceed `maxMessageBytes`, or the message is not JSON-serialisable. */
  MESSAGE: 'ERR_SIGNAL_MESSAGE_INVALID',
  /** The socket already holds `maxBufferedBytes` unsent: we refuse rather than queue without bound. */
  BACKPRESSURE: 'ERR_SIGNAL_BACKPRESSURE',
  /** The transport failed while writing the frame. */
  SEND: 'ERR_SIGNAL_SEND',
  /** `SignalServer.start()` could not bind its listener. */
  LISTEN: 'ERR_SIGNAL_LISTEN',
} as const;

/** An error of the signaling client or server, with one of the SignalErrorCodes. */
export class SignalError extends MeshError {}

/** `send` while not registered with a server (`ERR_SIGNAL_NOT_CONNECTED`). */
export class NotConnectedError extends SignalError {
  constructor(message = 'not connected to the signaling server') {
    super(SignalErrorCodes.NOT_CONNECTED, message);
  }
}
