import type { Clock, EventArgs, EventName, Logger, PeerKey } from '@mesh/core';
import type { PeerEndpoint } from '@mesh/wg-control';
import type { Guard } from '../guard.js';
import type { PeerConnCounters, PeerConnEvents, RelayPort } from '../types.js';

/**
 * What PeerConn hands each of its parts (js-libp2p style: parts are built from components plus
 * their own options). Every part method runs inside PeerConn's serial queue; a callback from
 * outside (a promise settling, a timer) re-enters through `run`.
 */
export interface Components {
  readonly remoteKey: PeerKey;
  readonly controller: boolean;
  readonly clock: Clock;
  readonly log: Logger;
  readonly counters: PeerConnCounters;
  readonly endpoint: PeerEndpoint;
  readonly relay: RelayPort | null;
  readonly guard: Guard;
  /** Enqueues a task on the per-peer queue; a no-op once PeerConn stopped. */
  run(name: string, task: () => void | Promise<void>): Promise<void>;
  /** Emits on PeerConn, only while it runs (quiet after stop). */
  emit<K extends EventName<PeerConnEvents>>(event: K, ...args: EventArgs<PeerConnEvents, K>): void;
  readonly running: boolean;
}

/**
 * What an offer does when the relay client already holds an entry for the peer
 * (`ERR_CONN_ALREADY_EXISTS`). Only `stale-flag` is for production; the other two reproduce
 * NetBird's old behaviour and its naive fix so negative controls can show both bugs. Not a public
 * option: tests set it through `@mesh/peer-conn/testing`'s `withRelayExistsPolicy`.
 */
export type RelayExistsPolicy = 'stale-flag' | 'reuse' | 'always-reopen';

/** The options key the testing entry sets; not exported from the package's main entry. */
export const RELAY_EXISTS_POLICY: unique symbol = Symbol('mesh.peer-conn.relayExistsPolicy');
export interface TestHooks {
  [RELAY_EXISTS_POLICY]?: RelayExistsPolicy;
}
