import { MeshError } from '@mesh/core';

export const PeerConnErrorCodes = {
  /** A signaling message that is not valid JSON of our schema, or from an unsupported protocol version. */
  SIGNAL_MESSAGE: 'ERR_SIGNAL_MESSAGE',
  /** The PeerConn is stopped; the call had no effect. */
  STOPPED: 'ERR_PEER_CONN_STOPPED',
} as const;

export class SignalMessageError extends MeshError {
  constructor(message: string) {
    super(PeerConnErrorCodes.SIGNAL_MESSAGE, message);
  }
}
