import {
  type Clock,
  type DatagramPath,
  type Logger,
  type PeerKey,
  Subscriptions,
  type Timer,
  toError,
} from '@mesh/core';
import { RelayDisconnectedError } from '@mesh/relay-client';
import type { RelayClientLike } from './client.js';

export interface TrackEntry {
  peer: PeerKey;
  conn: DatagramPath;
  /** Closed by something other than its owner; kept so a following disconnect still lists the peer. */
  closed: boolean;
}

/** One connection to one relay server, from creation to death. Never reused after `dead`. */
export class Track {
  state: 'dialling' | 'ready' | 'dead' = 'dialling';
  client: RelayClientLike | undefined;
  instanceUrl: string | undefined;
  /** Foreign only: the shared dial every concurrent `openConn` awaits. */
  ready: Promise<RelayClientLike> | undefined;
  /** Per-peer entries by the peer's base64 key. */
  readonly entries = new Map<string, TrackEntry>();
  /** `openConn` calls in progress on this track; a busy track is never idle-closed (F-R-13). */
  inflight = 0;
  /** The manager's listeners on the client, dropped by `discard`. */
  readonly subscriptions = new Subscriptions();
  #idleTimer: Timer | undefined;

  constructor(
    readonly url: string,
    readonly home: boolean,
  ) {}

  /** A live conn or an `openConn` in progress. */
  get busy(): boolean {
    return this.inflight > 0 || [...this.entries.values()].some((e) => !e.closed);
  }

  /** Calls `fire` after `ms` unless cancelled first; a timer already running is kept. */
  armIdle(clock: Clock, ms: number, fire: () => void): void {
    if (this.#idleTimer) return;
    this.#idleTimer = clock.setTimeout(() => {
      this.#idleTimer = undefined;
      fire();
    }, ms);
  }

  cancelIdle(): void {
    this.#idleTimer?.cancel();
    this.#idleTimer = undefined;
  }

  /**
   * Runs `fn` on the client now if it is connected, else right after its dial. Callbacks are
   * chained on the dial promise at call time, so operations issued during a dial run in the order
   * they were issued (an open then a close of the same peer stays an open then a close).
   */
  whenReady<T>(fn: (client: RelayClientLike) => T | Promise<T>): Promise<T> {
    if (this.state === 'ready' && this.client) return Promise.resolve().then(() => fn(this.client!));
    if (this.state === 'dialling' && this.ready) return this.ready.then(fn);
    return Promise.reject(new RelayDisconnectedError(`relay ${this.url} is gone`));
  }

  /** Records `conn` as `peer`'s entry; `changed` runs when it closes while still the entry. */
  addEntry(peer: PeerKey, conn: DatagramPath, changed: () => void): void {
    const entry: TrackEntry = { peer, conn, closed: conn.closed };
    this.entries.set(peer.base64, entry);
    conn.once('close', (info) => {
      if (this.entries.get(peer.base64) !== entry) return;
      // The owner closed it: forget it. Anything else may be the first sign of a dying server
      // whose `disconnected` comes next: keep the peer listed for that event.
      if (info.reason === 'local') this.entries.delete(peer.base64);
      else entry.closed = true;
      changed();
    });
  }

  /** Forgets `peer`'s entry and closes its conn (if it had one). */
  dropEntry(peer: PeerKey): void {
    const entry = this.entries.get(peer.base64);
    if (!entry) return;
    this.entries.delete(peer.base64);
    entry.conn.close();
  }

  /** Empties the table and returns what it held. */
  takeEntries(): TrackEntry[] {
    const entries = [...this.entries.values()];
    this.entries.clear();
    return entries;
  }

  /** Marks the track dead and closes its client without emitting anything. */
  async discard(log: Logger): Promise<void> {
    this.state = 'dead';
    this.cancelIdle();
    this.subscriptions.clear();
    const client = this.client;
    if (!client) return;
    try {
      await client.close();
    } catch (err) {
      log.debug('client-close-failed', { relay: this.url, error: toError(err) });
    }
  }
}
