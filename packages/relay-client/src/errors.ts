import { MeshError } from '@mesh/core';

/** `openConn` for a peer that already has an entry (open or still waiting): `ERR_CONN_ALREADY_EXISTS`. */
export class ConnAlreadyExistsError extends MeshError {
  /** The `code` every error of this class carries. */
  static readonly code = 'ERR_CONN_ALREADY_EXISTS';
  constructor(peer: string) {
    super(ConnAlreadyExistsError.code, `a relay conn to ${peer} already exists`);
  }
}

/** The WebSocket could not be opened (refused, TLS, HTTP error): `ERR_RELAY_CONNECT`. */
export class RelayConnectError extends MeshError {
  /** The `code` every error of this class carries. */
  static readonly code = 'ERR_RELAY_CONNECT';
  constructor(message: string, options?: { cause?: unknown }) {
    super(RelayConnectError.code, message, options);
  }
}

/**
 * The server closed the connection instead of answering auth (it does so silently for a bad,
 * expired or oversize token), or answered with something else: `ERR_RELAY_AUTH`.
 */
export class RelayAuthError extends MeshError {
  /** The `code` every error of this class carries. */
  static readonly code = 'ERR_RELAY_AUTH';
  constructor(message: string, options?: { cause?: unknown }) {
    super(RelayAuthError.code, message, options);
  }
}

/** An operation that needs a connected client, on one that is not (yet / any more): `ERR_RELAY_NOT_CONNECTED`. */
export class RelayNotConnectedError extends MeshError {
  /** The `code` every error of this class carries. */
  static readonly code = 'ERR_RELAY_NOT_CONNECTED';
  constructor(message = 'the relay client is not connected') {
    super(RelayNotConnectedError.code, message);
  }
}

/** The server connection was lost (rejects pending `openConn`s; the `error` of conns it closed): `ERR_RELAY_DISCONNECTED`. */
export class RelayDisconnectedError extends MeshError {
  /** The `code` every error of this class carries. */
  static readonly code = 'ERR_RELAY_DISCONNECTED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(RelayDisconnectedError.code, message, options);
  }
}

/** The remote peer did not come online on this server within `openTimeoutMs`: `ERR_PEER_NOT_ONLINE`. */
export class PeerNotOnlineError extends MeshError {
  /** The `code` every error of this class carries. */
  static readonly code = 'ERR_PEER_NOT_ONLINE';
  constructor(peer: string, ms: number) {
    super(PeerNotOnlineError.code, `relay peer ${peer} did not come online within ${ms} ms`);
  }
}
