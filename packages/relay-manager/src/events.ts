import type { PeerKey } from '@mesh/core';

export interface HomeChangedInfo {
  previous: string | undefined;
  current: string;
}

export interface ReconnectedInfo {
  /** The home instance URL now in use (may differ from the lost one: F-R-12, re-offer). */
  instanceUrl: string;
  previous: string | undefined;
}

export interface RelayDisconnectedInfo {
  /** The URL peers know the server by: the home instance URL, or the foreign URL given to `openConn`. */
  serverUrl: string;
  /** Every peer that had a conn on that server connection (all of them: F-R-4). */
  peers: PeerKey[];
  home: boolean;
  /** Why: the client's disconnect cause (`socket-closed`, `healthcheck-timeout`, …) or `became-home`. */
  cause: string;
  error?: Error;
}

export interface RelayManagerEvents {
  /** The home instance URL changed (including the first one after `start()`): re-offer to peers. */
  'home-changed': (info: HomeChangedInfo) => void;
  /** A home relay is connected again after it was lost (or after a failed `start()`). */
  reconnected: (info: ReconnectedInfo) => void;
  /** A server connection died; its conns are closed. Every affected peer is listed. */
  'relay-disconnected': (info: RelayDisconnectedInfo) => void;
}
