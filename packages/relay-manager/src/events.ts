import type { PeerKey } from '@mesh/core';

/** The home instance URL changed (the `home-changed` event). */
export interface HomeChangedInfo {
  /** The previous home instance URL; undefined for the first one. */
  previous: string | undefined;
  /** The new home instance URL. */
  current: string;
}

/** A home relay is connected again (the `reconnected` event). */
export interface ReconnectedInfo {
  /** The home instance URL now in use (may differ from the lost one: F-R-12, re-offer). */
  instanceUrl: string;
  /** The home instance URL that was lost; undefined after a failed `start()`. */
  previous: string | undefined;
}

/** A server connection died (the `relay-disconnected` event). */
export interface RelayDisconnectedInfo {
  /** The URL peers know the server by: the home instance URL, or the foreign URL given to `openConn`. */
  serverUrl: string;
  /** Every peer that had a conn on that server connection (all of them: F-R-4). */
  peers: PeerKey[];
  /** Whether it was the home relay. */
  home: boolean;
  /** Why: the client's disconnect cause (`socket-closed`, `healthcheck-timeout`, …) or `became-home`. */
  cause: string;
  /** The client's error, when there was one. */
  error?: Error;
}

/** Events of a RelayManager. */
export interface RelayManagerEvents {
  /** The home instance URL changed (including the first one after `start()`): re-offer to peers. */
  'home-changed': (info: HomeChangedInfo) => void;
  /** A home relay is connected again after it was lost (or after a failed `start()`). */
  reconnected: (info: ReconnectedInfo) => void;
  /** A server connection died; its conns are closed. Every affected peer is listed. */
  'relay-disconnected': (info: RelayDisconnectedInfo) => void;
}
