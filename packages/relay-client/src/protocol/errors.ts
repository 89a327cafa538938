import { MeshError } from '@mesh/core';

/** Why a relay message was rejected. Stable strings: callers and metrics branch on them. */
export type ProtocolErrorReason =
  | 'short'
  | 'oversize'
  | 'version'
  | 'type'
  | 'direction'
  | 'trailing-bytes'
  | 'list-length'
  | 'magic'
  | 'utf8'
  | 'invalid-argument';

/** Any malformed relay message (or an encoder given impossible input): code `ERR_RELAY_PROTOCOL`. */
export class RelayProtocolError extends MeshError {
  /** The `code` every error of this class carries. */
  static readonly code = 'ERR_RELAY_PROTOCOL';
  /** What was wrong with the message. */
  readonly reason: ProtocolErrorReason;
  constructor(reason: ProtocolErrorReason, message: string) {
    super(RelayProtocolError.code, `relay protocol: ${message}`);
    this.reason = reason;
  }
}
