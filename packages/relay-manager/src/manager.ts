import {
  abortReason,
  Backoff,
  type Clock,
  ClosedError,
  cryptoRandom,
  type DatagramPath,
  InvalidArgumentError,
  type Logger,
  type PeerKey,
  raceAbort,
  silentLogger,
  systemClock,
  type Timer,
  throwIfAborted,
  toError,
  withDeadline,
} from '@mesh/core';
import { RelayDisconnectedError } from '@mesh/relay-client';
import { EventEmitter } from 'eventemitter3';
import type { RelayClientFactory, RelayClientLike, RelayClientLikeEvents } from './client.js';
import { defaultRelayClientFactory } from './default-client.js';
import { RelayDialError, RelayNoHomeError, RelayNotStartedError, RelayStoppedError } from './errors.js';

export interface RelayManagerOptions {
  /** Relay server URLs to race for the home relay (e.g. `rel://relay.example:443`). */
  urls: readonly string[];
  /** HMAC token, or a function returning the current one; read at every dial. */
  token: string | (() => string);
  localKey: PeerKey;
  clock?: Clock;
  logger?: Logger;
  /** Builds relay clients; defaults to `@mesh/relay-client`'s `RelayClient`. */
  clientFactory?: RelayClientFactory;
  /** Home race: dials at once (default 7). */
  raceConcurrency?: number;
  /** Home race: overall bound, and the bound of every single dial (default 30 000 ms). */
  raceTimeoutMs?: number;
  reconnect?: {
    /** Wait before re-dialling the lost home URL once (default 1 000 ms, jittered like the ladder). */
    quickRetryMs?: number;
    /** Ladder of full races after the quick retry failed (default 1 s → 30 s, ×1.3, ±50 %). */
    backoff?: { initial?: number; max?: number; multiplier?: number; jitter?: number };
  };
  /** A foreign client with no conns for this long is closed (default 60 000 ms). */
  foreignIdleMs?: number;
  /** `reconnect(serverUrl)` acts at most once per this long per server (default 30 000 ms). */
  forcedReconnectMinMs?: number;
  /** Uniform [0,1) source for backoff jitter (tests); defaults to node:crypto. */
  random?: () => number;
}

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

interface Entry {
  peer: PeerKey;
  conn: DatagramPath;
  /** Closed by something other than its owner; kept so a following disconnect still lists the peer. */
  closed: boolean;
}

/** One connection to one relay server, from creation to death. Never reused after `dead`. */
interface Track {
  readonly url: string;
  readonly home: boolean;
  state: 'dialling' | 'ready' | 'dead';
  client: RelayClientLike | undefined;
  instanceUrl: string | undefined;
  /** Foreign only: the shared dial every concurrent `openConn` awaits. */
  ready: Promise<RelayClientLike> | undefined;
  readonly entries: Map<string, Entry>;
  /** `openConn` calls in progress on this track; a busy track is never idle-closed (F-R-13). */
  inflight: number;
  idleTimer: Timer | undefined;
  detach: () => void;
}

const DEFAULTS = {
  raceConcurrency: 7,
  raceTimeoutMs: 30_000,
  quickRetryMs: 1_000,
  // A gentle ×1.3 keeps the gap between attempts small while a restarting server is likely to come
  // back (≈2 s at 5 s after the loss, ≈5 s at 15 s), so a restart costs about a second over its
  // downtime; the 30 s cap (from ~100 s on) and the ±50 % jitter still spread clients out, and a
  // relay back after a long outage waits 15–45 s for a client's next attempt, not 30–90 s (README).
  backoff: { initial: 1_000, max: 30_000, multiplier: 1.3, jitter: 0.5 },
  foreignIdleMs: 60_000,
  /** `retryHome` acts at most once per this long, however many peers report the server back. */
  retryHintMinMs: 15_000,
};

/**
 * Owns this peer's relay connections: one home relay (raced over all URLs, re-dialled on loss)
 * and foreign relays dialled on demand for peers homed elsewhere. Routes every per-peer
 * operation to the client that owns the entry.
 */
export class RelayManager extends EventEmitter<RelayManagerEvents> {
  readonly #urls: readonly string[];
  #token: string | (() => string);
  readonly #localKey: PeerKey;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #factory: RelayClientFactory;
  readonly #raceConcurrency: number;
  readonly #raceTimeoutMs: number;
  readonly #quickRetryMs: number;
  readonly #backoff: Backoff;
  readonly #random: () => number;
  readonly #foreignIdleMs: number;
  readonly #forcedReconnectMinMs: number;
  /** Monotonic time of the last forced reconnect, per server URL. */
  readonly #forcedAt = new Map<string, number>();

  readonly #stopAc = new AbortController();
  #startPromise: Promise<void> | undefined;
  #stopped = false;
  #stopPromise: Promise<void> | undefined;
  #home: Track | undefined;
  /** Instance URL of the current or last home: conns for it must wait for the home, never go foreign. */
  #homeInstanceUrl: string | undefined;
  #reconnecting = false;
  /** Aborted by `retryHome` to cut the reconnect ladder's current wait short; set only during it. */
  #wake: AbortController | undefined;
  #hintAt = Number.NEGATIVE_INFINITY;
  readonly #foreign = new Map<string, Track>();

  constructor(options: RelayManagerOptions) {
    super();
    const { urls, token, localKey } = options;
    if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string' && u.length > 0)) {
      throw new InvalidArgumentError('RelayManager needs a non-empty list of relay URLs');
    }
    if (typeof token !== 'string' && typeof token !== 'function') {
      throw new InvalidArgumentError('RelayManager token must be a string or a function');
    }
    this.#urls = [...urls];
    this.#token = token;
    this.#localKey = localKey;
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? silentLogger).child({ component: 'relay-manager' });
    this.#factory = options.clientFactory ?? defaultRelayClientFactory;
    this.#raceConcurrency = positive('raceConcurrency', options.raceConcurrency ?? DEFAULTS.raceConcurrency);
    this.#raceTimeoutMs = positive('raceTimeoutMs', options.raceTimeoutMs ?? DEFAULTS.raceTimeoutMs);
    this.#quickRetryMs = nonNegative('quickRetryMs', options.reconnect?.quickRetryMs ?? DEFAULTS.quickRetryMs);
    this.#foreignIdleMs = positive('foreignIdleMs', options.foreignIdleMs ?? DEFAULTS.foreignIdleMs);
    this.#forcedReconnectMinMs = positive('forcedReconnectMinMs', options.forcedReconnectMinMs ?? 30_000);
    const b = { ...DEFAULTS.backoff, ...options.reconnect?.backoff };
    this.#random = options.random ?? cryptoRandom;
    this.#backoff = new Backoff({ ...b, random: this.#random });
  }

  /** The home server's instance URL (what peers put in offers); undefined while no home is connected. */
  get homeInstanceUrl(): string | undefined {
    return this.#home?.instanceUrl;
  }

  /** True while a home relay is connected. */
  get ready(): boolean {
    return this.#home !== undefined;
  }

  /** Foreign server URLs with a connected client (status and tests). */
  foreignServers(): string[] {
    return [...this.#foreign.values()].filter((t) => t.state === 'ready').map((t) => t.url);
  }

  /** Replaces the token; the next dial (reconnect, race or foreign) uses it. */
  updateToken(token: string | (() => string)): void {
    if (typeof token !== 'string' && typeof token !== 'function') {
      throw new InvalidArgumentError('RelayManager token must be a string or a function');
    }
    this.#token = token;
  }

  /**
   * Races all URLs for the home relay. Rejects with `ERR_RELAY_NO_HOME` when none answered in time;
   * the manager then keeps retrying on its backoff ladder (and emits `reconnected` on success)
   * until `stop()`. Idempotent: later calls return the first call's promise.
   */
  start(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#stopped) return Promise.reject(new RelayStoppedError());
    this.#startPromise ??= this.#start(options.signal);
    return this.#startPromise;
  }

  async #start(signal: AbortSignal | undefined): Promise<void> {
    const sig = signal ? AbortSignal.any([signal, this.#stopAc.signal]) : this.#stopAc.signal;
    try {
      this.#installHome(await this.#pickHome(sig), false);
    } catch (err) {
      if (this.#stopped) throw new RelayStoppedError();
      this.#log.warn('home-race-failed', { error: toError(err) });
      this.#startReconnect(undefined);
      throw err;
    }
  }

  /** Idempotent. Closes every client and cancels every timer; emits nothing afterwards. */
  stop(): Promise<void> {
    if (this.#stopPromise) return this.#stopPromise;
    // Flag first: abort listeners run synchronously and must already see a stopped manager.
    this.#stopped = true;
    this.#stopAc.abort(new RelayStoppedError());
    const tracks = [...(this.#home ? [this.#home] : []), ...this.#foreign.values()];
    this.#home = undefined;
    this.#foreign.clear();
    const closing = tracks.map((t) => this.#discard(t));
    this.#stopPromise = Promise.all(closing).then(() => this.#log.debug('stopped'));
    return this.#stopPromise;
  }

  /**
   * Opens a conn to `peer` on the server peers know as `serverUrl`: the home client if it is the
   * home instance URL, else a foreign client for it (dialled once, shared by every peer there).
   * Errors from the client (e.g. `ERR_CONN_ALREADY_EXISTS`) pass through unchanged.
   */
  async openConn(serverUrl: string, peer: PeerKey, options: { signal?: AbortSignal } = {}): Promise<DatagramPath> {
    const { signal } = options;
    this.#assertRunning();
    throwIfAborted(signal);
    const track = this.#trackFor(serverUrl);
    if (!track) throw new RelayNoHomeError(`home relay ${serverUrl} is reconnecting`);
    track.inflight++;
    this.#cancelIdle(track);
    let opening: Promise<DatagramPath> | undefined;
    try {
      opening = this.#whenReady(track, (client) => {
        throwIfAborted(signal);
        return client.openConn(peer, signal ? { signal } : {});
      });
      // One waiter giving up must not abort a shared dial, so the signal only races the wait.
      const conn = await (signal ? raceAbort(opening, signal) : opening);
      if (track.state !== 'ready') {
        conn.close();
        throw new RelayDisconnectedError(`relay ${serverUrl} disconnected while opening a conn`);
      }
      // A closeConnByPeerKey issued after this call got there first: its owner would never see 'close'.
      if (conn.closed) throw new ClosedError(`relay conn to ${peer.toShortString()} was closed while opening`);
      this.#addEntry(track, peer, conn);
      return conn;
    } catch (err) {
      // A conn that arrives after the caller gave up must not linger as an ownerless entry that
      // answers every later open with ERR_CONN_ALREADY_EXISTS (F-R-3).
      opening?.then(
        (conn) => conn.close(),
        () => {},
      );
      // Whatever the client said while we were tearing everything down, the answer is "stopped".
      if (this.#stopped) throw new RelayStoppedError();
      throw err;
    } finally {
      track.inflight--;
      this.#armIdle(track);
    }
  }

  /**
   * Closes this peer's entry on the client that owns it: the home client when `serverUrl` is the
   * home instance URL, else that foreign server's client (never the home client for a foreign
   * entry: NetBird PR #5866). If the foreign client is still being dialled, this waits for the dial
   * and then closes, so calls apply in the order they were made: an `openConn` issued earlier on the
   * same dial is closed, one issued later is not. Resolves true when an entry was closed.
   */
  async closeConnByPeerKey(serverUrl: string, peer: PeerKey): Promise<boolean> {
    this.#assertRunning();
    const track = this.#trackFor(serverUrl, false);
    if (!track) return false;
    // A failed dial never held an entry.
    return this.#whenReady(track, (client) => this.#closeOn(track, client, peer)).catch(() => false);
  }

  /**
   * Drops the live connection to `serverUrl` as if the server had closed it, and dials anew (home:
   * the quick retry; foreign: the next `openConn`). For owners with end-to-end evidence that the
   * server forgot our session while the socket still looks healthy (e.g. a conn opened afresh that
   * never carries a byte). Every peer on it hears `relay-disconnected`. Acts at most once per
   * `forcedReconnectMinMs` per server, so a confused caller cannot start a loop; returns whether it
   * acted. Inside that window it runs `verify()` instead: a dead socket is still dropped at once.
   */
  reconnect(serverUrl: string, reason: string): boolean {
    this.#assertRunning();
    const track = this.#trackFor(serverUrl, false);
    if (track?.state !== 'ready') return false;
    const now = this.#clock.monotonic();
    if (now - (this.#forcedAt.get(serverUrl) ?? Number.NEGATIVE_INFINITY) < this.#forcedReconnectMinMs) {
      this.#log.debug('relay-forced-reconnect-limited', { server: serverUrl, reason });
      this.verify(serverUrl, reason).catch(() => {}); // stopped meanwhile: nothing left to verify
      return false;
    }
    this.#forcedAt.set(serverUrl, now);
    this.#log.warn('relay-forced-reconnect', { server: serverUrl, reason });
    this.#lose(track, { cause: `forced:${reason}` });
    return true;
  }

  /**
   * Evidence that our home relay is reachable again while we are still waiting to re-dial it: a peer
   * says in its offer that `serverUrl` is its live home. Cuts the reconnect ladder's current wait
   * short (after a long outage the ladder waits up to 45 s), so the tunnel does not wait for the
   * slower of two peers' ladders. Only for one of our relay URLs or our last home's instance URL,
   * and at most once per 15 s however many peers say so: a flood of offers cannot become a dial
   * loop. Returns whether it acted.
   */
  retryHome(serverUrl: string, reason: string): boolean {
    if (this.#stopped || !this.#wake) return false;
    if (!this.#urls.includes(serverUrl) && serverUrl !== this.#homeInstanceUrl) return false;
    const now = this.#clock.monotonic();
    if (now - this.#hintAt < DEFAULTS.retryHintMinMs) return false;
    this.#hintAt = now;
    this.#log.info('home-reconnect-hint', { server: serverUrl, reason });
    this.#wake.abort();
    return true;
  }

  /**
   * Has the live connection to `serverUrl` prove that it still delivers (the client's `checkAlive`:
   * a WebSocket ping). One that stays silent past the client's pong deadline is dropped at once —
   * every peer on it hears `relay-disconnected` with cause `ping-timeout` — and dialled anew (home:
   * the quick retry; foreign: the next `openConn`). Not rate-limited: a fresh socket answers, so it
   * cannot loop. For owners that see a relay path go silent. Resolves true when the connection
   * answered, false when it did not or no connection to that server is live; `signal` only ends the wait.
   */
  async verify(serverUrl: string, reason: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    this.#assertRunning();
    const track = this.#trackFor(serverUrl, false);
    const client = track?.state === 'ready' ? track.client : undefined;
    if (!client) return false;
    const alive = await client.checkAlive(options);
    if (this.#stopped) return false; // closed under the check: not a verdict on the server
    if (alive) this.#log.debug('relay-verified', { server: serverUrl, reason });
    else this.#log.warn('relay-verify-failed', { server: serverUrl, reason });
    return alive;
  }

  #closeOn(track: Track, client: RelayClientLike, peer: PeerKey): boolean {
    if (track.state !== 'ready') return false;
    const closed = client.closeConnByPeerKey(peer);
    const entry = track.entries.get(peer.base64);
    if (entry) {
      track.entries.delete(peer.base64);
      entry.conn.close();
    }
    this.#armIdle(track);
    this.#log.debug('conn-closed-by-key', { server: track.url, peer: peer.toShortString(), closed });
    return closed;
  }

  /**
   * Runs `fn` on the track's client now if it is connected, else right after its dial. Callbacks
   * are chained on the dial promise at call time, so operations issued during a dial run in the
   * order they were issued (an open then a close of the same peer stays an open then a close).
   */
  #whenReady<T>(track: Track, fn: (client: RelayClientLike) => T | Promise<T>): Promise<T> {
    if (track.state === 'ready' && track.client) return Promise.resolve().then(() => fn(track.client!));
    if (track.state === 'dialling' && track.ready) return track.ready.then(fn);
    return Promise.reject(new RelayDisconnectedError(`relay ${track.url} is gone`));
  }

  #assertRunning(): void {
    if (this.#stopped) throw new RelayStoppedError();
    if (!this.#startPromise) throw new RelayNotStartedError();
  }

  /**
   * The track owning `serverUrl`. Undefined when it is the home server and the home is down: a
   * second session with our key on the home server would replace (kill) the home session.
   */
  #trackFor(serverUrl: string, dial = true): Track | undefined {
    if (serverUrl === this.#homeInstanceUrl) return this.#home;
    const existing = this.#foreign.get(serverUrl);
    // A dial that just failed is still being cleaned up: never hand it out (no stale window).
    if (existing?.state === 'dead') return dial ? this.#dialForeign(serverUrl) : undefined;
    if (existing || !dial) return existing;
    return this.#dialForeign(serverUrl);
  }

  #dialForeign(url: string): Track {
    const track = this.#newTrack(url, false);
    this.#foreign.set(url, track);
    this.#log.info('foreign-dial', { server: url });
    const dial = async (): Promise<RelayClientLike> => {
      try {
        await this.#dialTrack(track, this.#stopAc.signal);
      } catch (err) {
        if (this.#foreign.get(url) === track) this.#foreign.delete(url);
        if (this.#stopped) throw new RelayStoppedError();
        this.#log.warn('foreign-dial-failed', { server: url, error: toError(err) });
        throw new RelayDialError(url, { cause: err });
      }
      track.state = 'ready';
      this.#log.info('foreign-ready', { server: url, instance: track.instanceUrl });
      this.#armIdle(track);
      return track.client!;
    };
    track.ready = dial();
    track.ready.catch(() => {}); // waiters get the rejection; nobody waiting is fine too
    return track;
  }

  #newTrack(url: string, home: boolean): Track {
    return {
      url,
      home,
      state: 'dialling',
      client: undefined,
      instanceUrl: undefined,
      ready: undefined,
      entries: new Map(),
      inflight: 0,
      idleTimer: undefined,
      detach: () => {},
    };
  }

  /** Creates the track's client, listens to it from the first instant, and connects it. */
  async #connect(track: Track, signal: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    const client = this.#factory(track.url, {
      localKey: this.#localKey,
      token: () => (typeof this.#token === 'function' ? this.#token() : this.#token),
      clock: this.#clock,
      logger: this.#log.child({ relay: track.url }),
    });
    track.client = client;
    const onDisconnected: RelayClientLikeEvents['disconnected'] = (info) => this.#onDisconnected(track, info);
    const onPeerOffline: RelayClientLikeEvents['peer-offline'] = ({ peerKey }) => {
      track.entries.delete(peerKey.base64);
      this.#armIdle(track);
    };
    client.on('disconnected', onDisconnected);
    client.on('peer-offline', onPeerOffline);
    track.detach = () => {
      client.off('disconnected', onDisconnected);
      client.off('peer-offline', onPeerOffline);
    };
    await client.connect({ signal });
    // Died between authenticating and our continuation running: a failed dial, not a home.
    if (track.state === 'dead') throw new RelayDisconnectedError(`relay ${track.url} disconnected right after auth`);
    track.instanceUrl = client.instanceUrl ?? track.url;
  }

  /** Connects the track's client within raceTimeoutMs; on failure its client is closed. */
  async #dialTrack(track: Track, signal: AbortSignal): Promise<Track> {
    try {
      await withDeadline(this.#raceTimeoutMs, (s) => this.#connect(track, s), {
        signal,
        clock: this.#clock,
        what: `dial ${track.url}`,
      });
      return track;
    } catch (err) {
      await this.#discard(track);
      throw err;
    }
  }

  /** Marks the track dead and closes its client without emitting anything. */
  async #discard(track: Track): Promise<void> {
    track.state = 'dead';
    this.#cancelIdle(track);
    track.detach();
    const client = track.client;
    if (!client) return;
    try {
      await client.close();
    } catch (err) {
      this.#log.debug('client-close-failed', { relay: track.url, error: toError(err) });
    }
  }

  /** Home race: first to authenticate wins, the rest are aborted or closed. */
  async #pickHome(signal: AbortSignal): Promise<Track> {
    try {
      return await withDeadline(this.#raceTimeoutMs, (deadline) => this.#race(deadline), {
        signal,
        clock: this.#clock,
        what: 'home relay race',
      });
    } catch (err) {
      if (this.#stopped) throw new RelayStoppedError();
      if (err instanceof RelayNoHomeError) throw err;
      if (signal.aborted) throw abortReason(signal);
      throw new RelayNoHomeError(`no relay server answered: ${toError(err).message}`, { cause: err });
    }
  }

  #race(deadline: AbortSignal): Promise<Track> {
    // One controller per attempt: aborting the losers must not touch the winner's signal, which
    // its client may keep watching.
    const attempts = new Map<Track, AbortController>();
    const urls = this.#urls;
    const errors: Error[] = [];
    let next = 0;
    let running = 0;
    let done = false;
    return new Promise<Track>((resolve, reject) => {
      const launch = () => {
        while (!done && running < this.#raceConcurrency && next < urls.length) {
          const track = this.#newTrack(urls[next++]!, true);
          const ac = new AbortController();
          attempts.set(track, ac);
          running++;
          this.#connect(track, AbortSignal.any([deadline, ac.signal])).then(
            () => {
              running--;
              attempts.delete(track);
              if (done) {
                void this.#discard(track);
                return;
              }
              done = true;
              for (const loser of attempts.values()) loser.abort(new RelayStoppedError('another relay won the race'));
              resolve(track);
            },
            (err: unknown) => {
              running--;
              attempts.delete(track);
              void this.#discard(track);
              errors.push(toError(err));
              this.#log.debug('home-dial-failed', { relay: track.url, error: toError(err) });
              if (done) return;
              if (running === 0 && next >= urls.length) {
                done = true;
                const summary = errors.map((e) => e.message).join('; ');
                reject(new RelayNoHomeError(`no relay server reachable (${summary})`, { cause: errors }));
              } else {
                launch();
              }
            },
          );
        }
      };
      launch();
    });
  }

  #installHome(track: Track, reconnect: boolean): void {
    if (this.#stopped) {
      void this.#discard(track);
      throw new RelayStoppedError();
    }
    if (track.state === 'dead') throw new RelayDisconnectedError(`relay ${track.url} disconnected before use`);
    track.state = 'ready';
    const current = track.instanceUrl ?? track.url;
    const previous = this.#homeInstanceUrl;
    this.#home = track;
    this.#homeInstanceUrl = current;
    this.#backoff.reset();
    this.#log.info('home-connected', { relay: track.url, instance: current, previous });
    // A foreign session with our key on what is now the home server would be replaced by (and
    // fight with) the home session: drop it, its peers re-open through the home.
    const clash = this.#foreign.get(current);
    if (clash) this.#lose(clash, { cause: 'became-home' });
    if (previous !== current) this.#emit('home-changed', { previous, current });
    if (reconnect) this.#emit('reconnected', { instanceUrl: current, previous });
  }

  #onDisconnected(track: Track, why: { cause: string; error?: Error }): void {
    if (track.state === 'dead') return;
    if (track.state === 'dialling') {
      track.state = 'dead'; // the dial path sees it and fails
      return;
    }
    this.#lose(track, why);
  }

  /** A live server connection is gone: evict it at once, close its conns, tell every affected peer. */
  #lose(track: Track, why: { cause: string; error?: Error }): void {
    const wasDialling = track.state === 'dialling';
    const peers = [...track.entries.values()].map((e) => e.peer);
    const conns = [...track.entries.values()].map((e) => e.conn);
    track.entries.clear();
    if (track.home) {
      if (this.#home === track) this.#home = undefined;
    } else if (this.#foreign.get(track.url) === track) {
      this.#foreign.delete(track.url);
    }
    void this.#discard(track);
    // Owners see their conn close even if the client did not close it itself.
    for (const conn of conns) conn.close();
    if (wasDialling) return;
    const serverUrl = track.home ? (track.instanceUrl ?? track.url) : track.url;
    this.#log.warn('relay-disconnected', {
      server: serverUrl,
      home: track.home,
      peers: peers.length,
      cause: why.cause,
      error: why.error,
    });
    this.#emit('relay-disconnected', { serverUrl, peers, home: track.home, ...why });
    if (track.home) this.#startReconnect(track.url);
  }

  #startReconnect(lostUrl: string | undefined): void {
    if (this.#stopped || this.#reconnecting) return;
    this.#reconnecting = true;
    void this.#reconnectLoop(lostUrl);
  }

  /**
   * Quick retry of the lost URL (most losses are a server restart or a blip), then full races on
   * a jittered ladder until one succeeds or the manager stops. Runs at most once at a time.
   */
  async #reconnectLoop(lostUrl: string | undefined): Promise<void> {
    const signal = this.#stopAc.signal;
    let quick = lostUrl !== undefined && this.#urls.includes(lostUrl);
    for (;;) {
      // Every client of a restarted server lost it at the same instant: the quick retry is jittered too.
      const delay = quick ? jittered(this.#quickRetryMs, this.#backoff.jitter, this.#random) : this.#backoff.next();
      this.#log.info('home-reconnect-wait', { delayMs: delay, quick, attempt: this.#backoff.attempt });
      const wake = new AbortController();
      const onStop = () => wake.abort();
      signal.addEventListener('abort', onStop, { once: true });
      this.#wake = wake;
      try {
        await this.#clock.sleep(delay, { signal: wake.signal });
      } catch {
        if (signal.aborted) return; // stopped; otherwise woken by retryHome: dial now
      } finally {
        this.#wake = undefined;
        signal.removeEventListener('abort', onStop);
      }
      try {
        const track = quick
          ? await this.#dialTrack(this.#newTrack(lostUrl!, true), signal)
          : await this.#pickHome(signal);
        // Cleared before installing, so a home that dies while being installed starts a new loop.
        this.#reconnecting = false;
        this.#installHome(track, true);
        return;
      } catch (err) {
        if (signal.aborted) return;
        this.#reconnecting = true;
        this.#log.info('home-reconnect-failed', { quick, error: toError(err) });
      }
      quick = false;
    }
  }

  #addEntry(track: Track, peer: PeerKey, conn: DatagramPath): void {
    const entry: Entry = { peer, conn, closed: conn.closed };
    track.entries.set(peer.base64, entry);
    conn.once('close', (info) => {
      if (track.entries.get(peer.base64) !== entry) return;
      // The owner closed it: forget it. Anything else may be the first sign of a dying server
      // whose `disconnected` comes next: keep the peer listed for that event.
      if (info.reason === 'local') track.entries.delete(peer.base64);
      else entry.closed = true;
      this.#armIdle(track);
    });
  }

  /** Starts the idle timer of a foreign track with no live conn and no openConn in progress. */
  #armIdle(track: Track): void {
    if (track.home || track.state !== 'ready' || this.#stopped) return;
    const busy = track.inflight > 0 || [...track.entries.values()].some((e) => !e.closed);
    if (busy) {
      this.#cancelIdle(track);
      return;
    }
    if (track.idleTimer) return;
    track.idleTimer = this.#clock.setTimeout(() => {
      track.idleTimer = undefined;
      if (this.#foreign.get(track.url) === track) this.#foreign.delete(track.url);
      this.#log.info('foreign-idle-closed', { server: track.url, idleMs: this.#foreignIdleMs });
      void this.#discard(track);
    }, this.#foreignIdleMs);
  }

  #cancelIdle(track: Track): void {
    track.idleTimer?.cancel();
    track.idleTimer = undefined;
  }

  #emit<E extends keyof RelayManagerEvents>(event: E, ...args: Parameters<RelayManagerEvents[E]>): void {
    if (this.#stopped) return;
    try {
      (this.emit as (e: E, ...a: Parameters<RelayManagerEvents[E]>) => boolean)(event, ...args);
    } catch (err) {
      this.#log.error('listener-threw', { event, error: toError(err) });
    }
  }
}

function jittered(ms: number, jitter: number, random: () => number): number {
  return Math.round(ms * (1 + jitter * (2 * random() - 1)));
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new InvalidArgumentError(`${name} must be > 0, got ${value}`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!(Number.isFinite(value) && value >= 0)) throw new InvalidArgumentError(`${name} must be >= 0, got ${value}`);
  return value;
}
