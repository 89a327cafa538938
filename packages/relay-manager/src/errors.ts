import { MeshError } from '@mesh/core';

/**
 * Stable error codes of @mesh/relay-manager. Errors from a relay client (e.g.
 * `ERR_CONN_ALREADY_EXISTS` from `openConn`) pass through unchanged so callers can branch on them;
 * a server connection lost while opening is `@mesh/relay-client`'s `ERR_RELAY_DISCONNECTED`.
 */
export const RelayManagerErrorCodes = {
  /** No home relay: none of the configured URLs could be reached, or the home is being re-dialled. */
  NO_HOME: 'ERR_RELAY_NO_HOME',
  /** The manager was stopped (or stopped while the call was in flight). */
  STOPPED: 'ERR_RELAY_STOPPED',
  /** `openConn` / `closeConnByPeerKey` before `start()`. */
  NOT_STARTED: 'ERR_RELAY_NOT_STARTED',
  /** A foreign relay server could not be dialled (the cause says why). */
  DIAL_FAILED: 'ERR_RELAY_DIAL_FAILED',
} as const;

/** No home relay is connected (`ERR_RELAY_NO_HOME`). */
export class RelayNoHomeError extends MeshError {
  constructor(message = 'no home relay server is connected', options?: { cause?: unknown }) {
    super(RelayManagerErrorCodes.NO_HOME, message, options);
  }
}

/** The manager was stopped (`ERR_RELAY_STOPPED`). */
export class RelayStoppedError extends MeshError {
  constructor(message = 'the relay manager is stopped') {
    super(RelayManagerErrorCodes.STOPPED, message);
  }
}

/** A per-peer call before `start()` (`ERR_RELAY_NOT_STARTED`). */
export class RelayNotStartedError extends MeshError {
  constructor(message = 'the relay manager has not been started') {
    super(RelayManagerErrorCodes.NOT_STARTED, message);
  }
}

/** A foreign relay server could not be dialled (`ERR_RELAY_DIAL_FAILED`); the cause says why. */
export class RelayDialError extends MeshError {
  /** The URL that could not be dialled. */
  readonly serverUrl: string;
  constructor(serverUrl: string, options?: { cause?: unknown }) {
    const why = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(RelayManagerErrorCodes.DIAL_FAILED, `could not reach relay server ${serverUrl}${why}`, options);
    this.serverUrl = serverUrl;
  }
}
