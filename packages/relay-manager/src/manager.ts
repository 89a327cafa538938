import {
  Backoff,
  type Clock,
  ClosedError,
  cryptoRandom,
  type DatagramPath,
  type EventArgs,
  type EventName,
  InvalidArgumentError,
  type Logger,
  type PeerKey,
  raceAbort,
  silentLogger,
  systemClock,
  TypedEmitter,
  throwIfAborted,
  toError,
} from '@mesh/core';
import { RelayDisconnectedError } from '@mesh/relay-client';
import type { RelayClientFactory, RelayClientLike } from './client.js';
import {
  FORCED_RECONNECT_MIN_MS,
  FOREIGN_IDLE_MS,
  QUICK_RETRY_MS,
  RACE_CONCURRENCY,
  RACE_TIMEOUT_MS,
  RECONNECT_BACKOFF,
} from './constants.js';
import { defaultRelayClientFactory } from './default-client.js';
import { RelayDialer } from './dial.js';
import { RelayNoHomeError, RelayNotStartedError, RelayStoppedError } from './errors.js';
import type { RelayManagerEvents } from './events.js';
import { ForeignRelays } from './foreign.js';
import { ReconnectLadder } from './reconnect.js';
import { Track } from './track.js';

/** Options of a RelayManager. */
export interface RelayManagerOptions {
  /** Relay server URLs to race for the home relay (e.g. `rel://relay.example:443`). */
  urls: readonly string[];
  /** HMAC token, or a function returning the current one; read at every dial. */
  token: string | (() => string);
  /** Our WireGuard public key. */
  localKey: PeerKey;
  /** Clock for every timer; `systemClock` by default. */
  clock?: Clock;
  /** Logger; silent by default. */
  logger?: Logger;
  /** Builds relay clients; defaults to `@mesh/relay-client`'s `RelayClient`. */
  clientFactory?: RelayClientFactory;
  /** Home race: dials at once (default 7). */
  raceConcurrency?: number;
  /** Home race: overall bound, and the bound of every single dial (default 30 000 ms). */
  raceTimeoutMs?: number;
  /** How a lost home relay is re-dialled: one quick retry, then a ladder of full races. */
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

/**
 * Owns this peer's relay connections: one home relay (raced over all URLs, re-dialled on loss)
 * and foreign relays dialled on demand for peers homed elsewhere. Routes every per-peer
 * operation to the client that owns the entry.
 */
export class RelayManager extends TypedEmitter<RelayManagerEvents> {
  readonly #urls: readonly string[];
  #token: string | (() => string);
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #forcedReconnectMinMs: number;
  /** Monotonic time of the last forced reconnect, per server URL. */
  readonly #forcedAt = new Map<string, number>();
  readonly #dialer: RelayDialer;
  readonly #ladder: ReconnectLadder;
  readonly #foreign: ForeignRelays;

  readonly #stopAc = new AbortController();
  #startPromise: Promise<void> | undefined;
  #stopped = false;
  #stopPromise: Promise<void> | undefined;
  #home: Track | undefined;
  /** Instance URL of the current or last home: conns for it must wait for the home, never go foreign. */
  #homeInstanceUrl: string | undefined;

  constructor(options: RelayManagerOptions) {
    super();
    const { urls, token, localKey } = options;
    if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string' && u.length > 0)) {
      throw new InvalidArgumentError('RelayManager needs a non-empty list of relay URLs');
    }
    assertToken(token);
    this.#urls = [...urls];
    this.#token = token;
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? silentLogger).child({ component: 'relay-manager' });
    const clock = this.#clock;
    const log = this.#log;
    const stopped = () => this.#stopped;
    const factory: RelayClientFactory = options.clientFactory ?? defaultRelayClientFactory;
    const raceConcurrency = positive('raceConcurrency', options.raceConcurrency ?? RACE_CONCURRENCY);
    const raceTimeoutMs = positive('raceTimeoutMs', options.raceTimeoutMs ?? RACE_TIMEOUT_MS);
    const quickRetryMs = nonNegative('quickRetryMs', options.reconnect?.quickRetryMs ?? QUICK_RETRY_MS);
    const foreignIdleMs = positive('foreignIdleMs', options.foreignIdleMs ?? FOREIGN_IDLE_MS);
    this.#forcedReconnectMinMs = positive(
      'forcedReconnectMinMs',
      options.forcedReconnectMinMs ?? FORCED_RECONNECT_MIN_MS,
    );
    const random = options.random ?? cryptoRandom;
    const backoff = new Backoff({ ...RECONNECT_BACKOFF, ...options.reconnect?.backoff, random });
    this.#dialer = new RelayDialer({
      urls: this.#urls,
      factory,
      localKey,
      token: () => (typeof this.#token === 'function' ? this.#token() : this.#token),
      clock,
      log,
      raceConcurrency,
      raceTimeoutMs,
      attach: (track, client) => this.#attach(track, client),
      stopped,
    });
    this.#foreign = new ForeignRelays({
      clock,
      log,
      idleMs: foreignIdleMs,
      dial: (track) => this.#dialer.dial(track, this.#stopAc.signal),
      stopped,
    });
    this.#ladder = new ReconnectLadder({
      clock,
      log,
      signal: this.#stopAc.signal,
      urls: this.#urls,
      quickRetryMs,
      backoff,
      random,
      dial: (url, signal) => this.#dialer.dial(new Track(url, true), signal),
      race: (signal) => this.#dialer.pickHome(signal),
      install: (track) => this.#installHome(track, true),
    });
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
    return this.#foreign.servers();
  }

  /** Replaces the token; the next dial (reconnect, race or foreign) uses it. */
  updateToken(token: string | (() => string)): void {
    assertToken(token);
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
      this.#installHome(await this.#dialer.pickHome(sig), false);
    } catch (err) {
      if (this.#stopped) throw new RelayStoppedError();
      this.#log.warn('home-race-failed', { error: toError(err) });
      this.#ladder.start(undefined);
      throw err;
    }
  }

  /** Idempotent. Closes every client and cancels every timer; emits nothing afterwards. */
  stop(): Promise<void> {
    if (this.#stopPromise) return this.#stopPromise;
    // Flag first: abort listeners run synchronously and must already see a stopped manager.
    this.#stopped = true;
    this.#stopAc.abort(new RelayStoppedError());
    const tracks = [...(this.#home ? [this.#home] : []), ...this.#foreign.takeAll()];
    this.#home = undefined;
    const closing = tracks.map((t) => t.discard(this.#log));
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
    track.cancelIdle();
    let opening: Promise<DatagramPath> | undefined;
    try {
      opening = track.whenReady((client) => {
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
      track.addEntry(peer, conn, () => this.#foreign.armIdle(track));
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
      this.#foreign.armIdle(track);
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
    return track.whenReady((client) => this.#closeOn(track, client, peer)).catch(() => false);
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
    if (this.#stopped || !this.#ladder.waiting) return false;
    if (!this.#urls.includes(serverUrl) && serverUrl !== this.#homeInstanceUrl) return false;
    return this.#ladder.wake(serverUrl, reason);
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
    track.dropEntry(peer);
    this.#foreign.armIdle(track);
    this.#log.debug('conn-closed-by-key', { server: track.url, peer: peer.toShortString(), closed });
    return closed;
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
    if (existing?.state === 'dead') return dial ? this.#foreign.dial(serverUrl) : undefined;
    if (existing || !dial) return existing;
    return this.#foreign.dial(serverUrl);
  }

  /** Listens to a track's client from the first instant (dropped by `track.discard`). */
  #attach(track: Track, client: RelayClientLike): void {
    track.subscriptions
      .on(client, 'disconnected', (info) => this.#onDisconnected(track, info))
      .on(client, 'peer-offline', ({ peerKey }) => {
        track.entries.delete(peerKey.base64);
        this.#foreign.armIdle(track);
      });
  }

  #installHome(track: Track, reconnect: boolean): void {
    if (this.#stopped) {
      void track.discard(this.#log);
      throw new RelayStoppedError();
    }
    if (track.state === 'dead') throw new RelayDisconnectedError(`relay ${track.url} disconnected before use`);
    track.state = 'ready';
    const current = track.instanceUrl ?? track.url;
    const previous = this.#homeInstanceUrl;
    this.#home = track;
    this.#homeInstanceUrl = current;
    this.#ladder.reset();
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
    const entries = track.takeEntries();
    if (track.home) {
      if (this.#home === track) this.#home = undefined;
    } else {
      this.#foreign.evict(track);
    }
    void track.discard(this.#log);
    // Owners see their conn close even if the client did not close it itself.
    for (const e of entries) e.conn.close();
    if (wasDialling) return;
    const peers = entries.map((e) => e.peer);
    const serverUrl = track.home ? (track.instanceUrl ?? track.url) : track.url;
    this.#log.warn('relay-disconnected', {
      server: serverUrl,
      home: track.home,
      peers: peers.length,
      cause: why.cause,
      error: why.error,
    });
    this.#emit('relay-disconnected', { serverUrl, peers, home: track.home, ...why });
    if (track.home) this.#ladder.start(track.url);
  }

  #emit<E extends EventName<RelayManagerEvents>>(event: E, ...args: EventArgs<RelayManagerEvents, E>): void {
    if (this.#stopped) return;
    try {
      this.emit(event, ...args);
    } catch (err) {
      this.#log.error('listener-threw', { event, error: toError(err) });
    }
  }
}

function assertToken(token: unknown): void {
  if (typeof token !== 'string' && typeof token !== 'function') {
    throw new InvalidArgumentError('RelayManager token must be a string or a function');
  }
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new InvalidArgumentError(`${name} must be > 0, got ${value}`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!(Number.isFinite(value) && value >= 0)) throw new InvalidArgumentError(`${name} must be >= 0, got ${value}`);
  return value;
}
