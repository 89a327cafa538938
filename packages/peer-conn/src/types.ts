import type { Clock, Logger, PeerKey, Signaler } from '@mesh/core';
import type { IceSessionRotatedInfo, IceWorker } from '@mesh/ice-worker';
import type { RelayManager } from '@mesh/relay-manager';
import type { HandshakeWatcherOptions, PeerEndpoint, WgDevice } from '@mesh/wg-control';
import type { SignalMessage } from './messages.js';

export type PathKind = 'none' | 'relay' | 'ice-turn' | 'ice-direct';

/** Higher wins: a better path takes over as soon as it is up and alive. */
export const PATH_PRIORITY: Readonly<Record<PathKind, number>> = { none: 0, relay: 1, 'ice-turn': 2, 'ice-direct': 3 };

/** The parts of the relay manager PeerConn uses (`~events` keeps its subscriptions type-checked). */
export type RelayPort = Pick<
  RelayManager,
  'homeInstanceUrl' | 'openConn' | 'closeConnByPeerKey' | 'reconnect' | 'retryHome' | 'on' | 'off' | '~events'
>;
/** The parts of the WireGuard device PeerConn uses. */
export type DevicePort = Pick<WgDevice, 'name' | 'getPeer' | 'upsertPeer' | 'removePeer'>;

export interface PeerConnOptions {
  localKey: PeerKey;
  remoteKey: PeerKey;
  device: DevicePort;
  /** Not started yet: PeerConn starts it, configures WireGuard with its address once, and stops it. */
  endpoint: PeerEndpoint;
  /** Null: no relay configured (ICE only). */
  relay: RelayPort | null;
  /** Null: no ICE (relay only). Called once per PeerConn. */
  iceWorkerFactory: (() => IceWorker) | null;
  signaler: Signaler<SignalMessage>;
  allowedIps: string[];
  /** WireGuard persistent keepalive; it keeps every path carrying traffic (default 25 s). */
  persistentKeepaliveSec?: number;
  watcher?: Pick<
    HandshakeWatcherOptions,
    'firstHandshakeTimeoutMs' | 'staleAfterMs' | 'checkIntervalMs' | 'clockJumpToleranceMs'
  >;
  guard?: { initialMs?: number; maxMs?: number; jitter?: number; random?: () => number };
  /**
   * While ICE runs over TURN with a live relay standby, the controller retries for a direct pair
   * after this ladder (default 15 s doubling to 10 min; reset once direct).
   */
  turnUpgrade?: { initialMs?: number; maxMs?: number };
  /**
   * Follower only: how long the controller's home relay stays marked unreachable after a failed
   * dial before it is probed again (default 300 000 ms). Meanwhile both sides meet on the
   * follower's home relay.
   */
  relayUnreachableTtlMs?: number;
  clock?: Clock;
  logger?: Logger;
}

export interface PeerConnCounters {
  offersSent: number;
  offersReceived: number;
  answersSent: number;
  answersReceived: number;
  candidatesSent: number;
  candidatesReceived: number;
  badMessages: number;
  relayOpens: number;
  relayReopens: number;
  /** Relay entries this peer closed (by key or because the path died under it). */
  relayTeardowns: number;
  iceSessions: number;
  recoveries: number;
}

export interface PeerConnStatus {
  remoteKey: string;
  controller: boolean;
  active: PathKind;
  standby: PathKind[];
  /** `unreachable` (follower only, while marked): the controller's home relay it could not reach. */
  relay: { server: string | null; stale: boolean; open: boolean; unreachable?: string };
  ice: { localSessionId: string | null; remoteSessionId: string | null; connecting: boolean; kind: PathKind | null };
  lastHandshakeAt: number;
  rxBytes: number;
  txBytes: number;
  counters: PeerConnCounters;
}

export interface PathChangedInfo {
  from: PathKind;
  to: PathKind;
  reason: string;
}

export interface PeerConnEvents {
  'path-changed': (info: PathChangedInfo) => void;
  /** The relay entry was judged dead; the next offer closes and reopens it. */
  'stale-marked': (info: { reason: string; server: string | null }) => void;
  'session-rotated': (info: IceSessionRotatedInfo) => void;
  /** Traffic flows again after an outage. */
  recovered: (info: { outageMs: number; path: PathKind }) => void;
  /** An operation failed in a way the owner may want to log (nothing is thrown from events). */
  error: (error: Error) => void;
}

export function newCounters(): PeerConnCounters {
  return {
    offersSent: 0,
    offersReceived: 0,
    answersSent: 0,
    answersReceived: 0,
    candidatesSent: 0,
    candidatesReceived: 0,
    badMessages: 0,
    relayOpens: 0,
    relayReopens: 0,
    relayTeardowns: 0,
    iceSessions: 0,
    recoveries: 0,
  };
}
