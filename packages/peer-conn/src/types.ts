import type { Clock, Logger, PeerKey, Signaler } from '@mesh/core';
import type { IceSessionRotatedInfo, IceWorker } from '@mesh/ice-worker';
import type { RelayManager } from '@mesh/relay-manager';
import type { HandshakeWatcherOptions, PeerEndpoint, WgDevice } from '@mesh/wg-control';
import type { SignalMessage } from './messages.js';

/** The kind of a path to the peer; `none` when there is no active path. */
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

/** Options of a PeerConn. */
export interface PeerConnOptions {
  /** Our WireGuard public key. */
  localKey: PeerKey;
  /** The remote peer's WireGuard public key. */
  remoteKey: PeerKey;
  /** The WireGuard device the peer is configured on. */
  device: DevicePort;
  /** Not started yet: PeerConn starts it, configures WireGuard with its address once, and stops it. */
  endpoint: PeerEndpoint;
  /** Null: no relay configured (ICE only). */
  relay: RelayPort | null;
  /** Null: no ICE (relay only). Called once per PeerConn. */
  iceWorkerFactory: (() => IceWorker) | null;
  /** Carries offers, answers and candidates to the remote peer. */
  signaler: Signaler<SignalMessage>;
  /** The peer's allowed IPs (CIDRs), configured on the device. */
  allowedIps: string[];
  /** WireGuard persistent keepalive; it keeps every path carrying traffic (default 25 s). */
  persistentKeepaliveSec?: number;
  /** Timings of the HandshakeWatcher that judges the WireGuard session. */
  watcher?: Pick<
    HandshakeWatcherOptions,
    'firstHandshakeTimeoutMs' | 'staleAfterMs' | 'checkIntervalMs' | 'clockJumpToleranceMs'
  >;
  /** Tuning of the reconnect ladder (see GuardOptions); the defaults are NetBird's. */
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
  /** Clock for every timer; `systemClock` by default. */
  clock?: Clock;
  /** Logger; silent by default. */
  logger?: Logger;
}

/**
 * A change of the host's network, as PeerConn needs it (an agent builds it from its network
 * monitor; PeerConn does not watch the host itself).
 */
export interface HostNetworkChange {
  /** The host has a default route (or some usable address). */
  online: boolean;
  /** Local addresses that went away. */
  addressesRemoved: number;
  /** Local addresses that appeared. */
  addressesAdded: number;
  /** A default route appeared, vanished or moved to another interface or gateway. */
  defaultRouteChanged: boolean;
}

/** Cumulative counters of one PeerConn. */
export interface PeerConnCounters {
  /** Offers sent. */
  offersSent: number;
  /** Offers received. */
  offersReceived: number;
  /** Answers sent. */
  answersSent: number;
  /** Answers received. */
  answersReceived: number;
  /** ICE candidates trickled to the remote. */
  candidatesSent: number;
  /** ICE candidates received from the remote. */
  candidatesReceived: number;
  /** Signaling messages dropped because they did not parse. */
  badMessages: number;
  /** Relay conns opened. */
  relayOpens: number;
  /** Relay conns closed and opened again (the stale flag at work). */
  relayReopens: number;
  /** Relay entries this peer closed (by key or because the path died under it). */
  relayTeardowns: number;
  /** ICE sessions started. */
  iceSessions: number;
  /** Outages recovered from (WireGuard data crossed the new path both ways). */
  recoveries: number;
}

/** A snapshot of one PeerConn for status output. */
export interface PeerConnStatus {
  /** The remote peer's public key (base64). */
  remoteKey: string;
  /** Whether this side controls the pair. */
  controller: boolean;
  /** The active path. */
  active: PathKind;
  /** Live paths other than the active one. */
  standby: PathKind[];
  /** `unreachable` (follower only, while marked): the controller's home relay it could not reach. */
  relay: { server: string | null; stale: boolean; open: boolean; unreachable?: string };
  /** The ICE worker: our and the remote's session ids, whether it is connecting, the kind of its path. */
  ice: { localSessionId: string | null; remoteSessionId: string | null; connecting: boolean; kind: PathKind | null };
  /** Wall ms of the peer's latest WireGuard handshake; 0 = never. */
  lastHandshakeAt: number;
  /** Bytes WireGuard received from the peer. */
  rxBytes: number;
  /** Bytes WireGuard sent to the peer. */
  txBytes: number;
  /**
   * True once WireGuard data crossed the active path both ways since it became active; false
   * while a path is selected that has not carried data yet (a handshake still missing).
   */
  carrying: boolean;
  /** Probe loss per path over the endpoint's window (percent; null until measured or absent). */
  loss: { ice: number | null; relay: number | null };
  /** ICE ranks below the relay: its probes were clearly lossier (switches back with hysteresis). */
  iceDemoted: boolean;
  /** True while parked: the host is offline and offers wait for its return. */
  offline: boolean;
  /** The PeerConn's counters. */
  counters: PeerConnCounters;
}

/** The active path changed (the `path-changed` event). */
export interface PathChangedInfo {
  /** The previous active path. */
  from: PathKind;
  /** The new active path. */
  to: PathKind;
  /** What made it change, e.g. `ice-connected`, `path-silent`. */
  reason: string;
}

/** Events of a PeerConn. */
export interface PeerConnEvents {
  /** The active path changed. */
  'path-changed': (info: PathChangedInfo) => void;
  /** The relay entry was judged dead; the next offer closes and reopens it. */
  'stale-marked': (info: { reason: string; server: string | null }) => void;
  /** The ICE worker rotated its session id. */
  'session-rotated': (info: IceSessionRotatedInfo) => void;
  /** WireGuard data crosses the new path both ways again after an outage. */
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
