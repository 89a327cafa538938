import { MeshError } from '@mesh/core';

/** Error codes of @mesh/peer-conn (besides core's and those of the packages it drives). */
export const PeerConnErrorCodes = {
  /** A signaling message that is not valid JSON of our schema, or from an unsupported protocol version. */
  SIGNAL_MESSAGE: 'ERR_SIGNAL_MESSAGE',
  /** The PeerConn is stopped; the call had no effect. */
  STOPPED: 'ERR_PEER_CONN_STOPPED',
} as const;

/** A signaling message that does not parse or has an unsupported version (`ERR_SIGNAL_MESSAGE`). */
export class SignalMessageError extends MeshError {
  constructor(message: string) {
    super(PeerConnErrorCodes.SIGNAL_MESSAGE, message);
  }
}
