import type { Clock, DatagramPath, Logger, PeerKey, TypedEmitter } from '@mesh/core';

/**
 * Events the manager needs from a relay client (the shapes `RelayClient` emits). Declared as
 * methods so that a client whose payloads say more (RelayClient's `cause` union, its `peerId`)
 * still fits.
 */
export interface RelayClientLikeEvents {
  /**
   * The server connection died (never for a local `close()`). `cause` is a short stable string
   * (`socket-closed`, `server-close`, `healthcheck-timeout`, `ping-timeout`, …).
   */
  disconnected(info: { cause: string; error?: Error }): void;
  /** The server reported a subscribed peer online. */
  'peer-online'(info: { peerKey: PeerKey }): void;
  /** The remote left the server; its conn (if any) is already closed and removed. */
  'peer-offline'(info: { peerKey: PeerKey }): void;
}

/**
 * What RelayManager needs from one connection to one relay server. `@mesh/relay-client`'s
 * `RelayClient` is the real one; `FakeRelayNetwork` (`@mesh/relay-manager/testing`) is an
 * in-memory one. Both pass `describeRelayClientContract`.
 */
export interface RelayClientLike extends Pick<TypedEmitter<RelayClientLikeEvents>, 'on' | 'off' | '~events'> {
  /** The server's exposed address (what peers put in offers); meaningful after `connect()`. */
  readonly instanceUrl: string | undefined;
  /** Dials and authenticates; resolves once the server accepted us. */
  connect(options?: { signal?: AbortSignal }): Promise<void>;
  /** Resolves once `peer` is online on this server; rejects `ERR_CONN_ALREADY_EXISTS` if an entry exists. */
  openConn(peer: PeerKey, options?: { signal?: AbortSignal }): Promise<DatagramPath>;
  /**
   * Proves the connection still delivers (a WebSocket ping): true once anything arrives; false when
   * not connected, or when nothing arrives within the client's pong deadline, in which case the
   * client has ended and emitted `disconnected` (cause `ping-timeout`). `signal` only ends the wait.
   */
  checkAlive(options?: { signal?: AbortSignal }): Promise<boolean>;
  /** Closes and removes this client's entry for `peer`; false when there was none. */
  closeConnByPeerKey(peer: PeerKey): boolean;
  /** True when this client holds an entry (open or opening) for `peer`. */
  hasConn(peer: PeerKey): boolean;
  /** Idempotent; closes every conn. */
  close(): void | Promise<void>;
}

/** What the manager passes a RelayClientFactory for each client. */
export interface RelayClientFactoryOptions {
  /** Our WireGuard public key. */
  localKey: PeerKey;
  /** Read at each connect, so `RelayManager.updateToken()` applies to the next dial. */
  token: () => string;
  /** The manager's clock. */
  clock: Clock;
  /** The manager's logger. */
  logger: Logger;
}

/** Builds an unconnected client for `url`; the manager calls `connect()` on it. */
export type RelayClientFactory = (url: string, options: RelayClientFactoryOptions) => RelayClientLike;
