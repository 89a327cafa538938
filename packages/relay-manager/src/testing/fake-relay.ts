import {
  type Clock,
  ClosedError,
  type DatagramPath,
  MeshError,
  onceEvent,
  type PathCloseInfo,
  type PeerKey,
  raceAbort,
  systemClock,
  TypedEmitter,
  throwIfAborted,
} from '@mesh/core';
import type {
  RelayClientFactory,
  RelayClientFactoryOptions,
  RelayClientLike,
  RelayClientLikeEvents,
} from '../client.js';
import { FAKE_OPEN_TIMEOUT_MS, FAKE_PONG_TIMEOUT_MS } from '../constants.js';
import { FakeRelayConn } from './fake-relay-conn.js';

/** Options of a FakeRelayNetwork. */
export interface FakeRelayNetworkOptions {
  /** Clock for every delay and deadline; `systemClock` by default. */
  clock?: Clock;
  /**
   * How a dying session tells its owner: its conns close first and then `disconnected` fires
   * (NetBird's order), or the event comes first. The manager must handle both.
   */
  disconnectOrder?: 'conns-first' | 'event-first';
  /** Bound of `openConn`'s wait for the remote peer to come online (default 5 000 ms). */
  openTimeoutMs?: number;
  /** How long `checkAlive` waits for an answer from a half-open server (default 3 000 ms, as RelayClient). */
  pongTimeoutMs?: number;
}

/** Options of FakeRelayNetwork.addServer(). */
export interface FakeRelayServerOptions {
  /** What clients learn after auth (default: the URL itself). */
  instanceUrl?: string;
  /** Time `connect()` takes on the network's clock (default 0: resolves without a timer). */
  connectDelayMs?: number;
}

/**
 * In-memory relay servers and clients with the semantics of `@mesh/relay-client` that the
 * manager relies on (checked by `describeRelayClientContract`): auth, per-peer entries with
 * `ERR_CONN_ALREADY_EXISTS`, online waits, routing, peer-offline, same-key replacement, and
 * server death. Servers are addressed by URL; `factory` plugs into `RelayManager`.
 */
export class FakeRelayNetwork {
  /** Clock for every delay and deadline. */
  readonly clock: Clock;
  /** Whether a dying session closes its conns before or after `disconnected` fires. */
  readonly disconnectOrder: 'conns-first' | 'event-first';
  /** Bound of `openConn`'s wait for the remote peer, ms. */
  readonly openTimeoutMs: number;
  /** How long `checkAlive` waits on a half-open server, ms. */
  readonly pongTimeoutMs: number;
  /** Every client the factory built, in order. */
  readonly clients: FakeRelayClient[] = [];
  readonly #servers = new Map<string, FakeRelayServer>();

  constructor(options: FakeRelayNetworkOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.disconnectOrder = options.disconnectOrder ?? 'conns-first';
    this.openTimeoutMs = options.openTimeoutMs ?? FAKE_OPEN_TIMEOUT_MS;
    this.pongTimeoutMs = options.pongTimeoutMs ?? FAKE_PONG_TIMEOUT_MS;
  }

  /** Adds a server reachable by `url` and by its instance URL. */
  addServer(url: string, options: FakeRelayServerOptions = {}): FakeRelayServer {
    const server = new FakeRelayServer(url, options);
    // Reachable by its dial URL and by its instance URL (which is what peers advertise).
    this.#servers.set(url, server);
    this.#servers.set(server.instanceUrl, server);
    return server;
  }

  /** The server reachable by `url` (dial or instance URL), if any. */
  server(url: string): FakeRelayServer | undefined {
    return this.#servers.get(url);
  }

  /** A RelayClientFactory building FakeRelayClients on this network; pass it as `clientFactory`. */
  readonly factory: RelayClientFactory = (url, options) => {
    const client = new FakeRelayClient(this, url, options);
    this.clients.push(client);
    return client;
  };

  /** Clients built for `url` (any state). */
  clientsFor(url: string): FakeRelayClient[] {
    return this.clients.filter((c) => c.url === url);
  }
}

/** One in-memory relay server of a FakeRelayNetwork. */
export class FakeRelayServer {
  /** The URL clients dial. */
  readonly url: string;
  /** What clients learn after auth (what peers advertise). */
  readonly instanceUrl: string;
  /** Time `connect()` takes on the network's clock. */
  connectDelayMs: number;
  /** When false, `connect()` fails as if the port were closed. */
  up = true;
  /** Auth check; a rejected token fails `connect()`. */
  acceptToken: (token: string) => boolean = () => true;
  /** Tokens presented, in order. */
  readonly tokensSeen: string[] = [];
  readonly #sessions = new Map<string, FakeRelayClient>();
  /** Bumped by halfOpen(): a client whose login is older has a dead socket (forgotten ones too). */
  #epoch = 0;
  readonly #loginEpoch = new WeakMap<FakeRelayClient, number>();

  constructor(url: string, options: FakeRelayServerOptions) {
    this.url = url;
    this.instanceUrl = options.instanceUrl ?? url;
    this.connectDelayMs = options.connectDelayMs ?? 0;
  }

  /** Number of authenticated client sessions. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** True when a client with key `peer` is logged in. */
  isOnline(peer: PeerKey): boolean {
    return this.#sessions.has(peer.base64);
  }

  /** Every session dies (like SIGKILL: no close message) and the server stays down until restart(). */
  kill(error: Error = new Error('connection reset')): void {
    this.up = false;
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const s of sessions) s._die('socket-closed', error);
  }

  /**
   * The server dies but its FIN/RST never reach the clients: every client still thinks it is
   * connected and nobody is told; nothing is routed either way and `checkAlive` gets no answer. The
   * server stays down until restart(); the old sockets stay dead after it.
   */
  halfOpen(): void {
    this.up = false;
    this.#epoch++;
    this.#sessions.clear();
  }

  /** Brings a killed or half-open server back up; clients must connect again (old sockets stay dead). */
  restart(): void {
    this.up = true;
  }

  /**
   * Forgets `peer`'s session without telling anyone: its socket "stays up", its client keeps every
   * entry, but nothing it sends is routed and nothing reaches it. Only a new login cures it.
   */
  forget(peer: PeerKey): void {
    this.#sessions.delete(peer.base64);
  }

  /** @internal Whether a ping from `client` is answered (a forgotten session's socket still answers). */
  _answers(client: FakeRelayClient): boolean {
    return this.#loginEpoch.get(client) === this.#epoch;
  }

  /** @internal */
  _register(client: FakeRelayClient): void {
    const key = client.localKey.base64;
    const old = this.#sessions.get(key);
    this.#sessions.set(key, client);
    this.#loginEpoch.set(client, this.#epoch);
    // Same id again: the old session is replaced, and its subscribers hear offline then online.
    if (old) {
      old._die('socket-closed', new MeshError('ERR_RELAY_REPLACED', 'session replaced by a login with the same key'));
      for (const s of this.#sessions.values()) s._peerOffline(client.localKey);
    }
    for (const s of this.#sessions.values()) if (s !== client) s._peerOnline(client.localKey);
  }

  /** @internal */
  _unregister(client: FakeRelayClient): void {
    const key = client.localKey.base64;
    if (this.#sessions.get(key) !== client) return;
    this.#sessions.delete(key);
    for (const s of this.#sessions.values()) s._peerOffline(client.localKey);
  }

  /** @internal */
  _route(from: PeerKey, to: PeerKey, datagram: Buffer): void {
    if (!this.#sessions.has(from.base64)) return; // a forgotten session sends into the void
    this.#sessions.get(to.base64)?._receive(from, datagram);
  }
}

/** Lifecycle of a FakeRelayClient. */
export type ClientState = 'new' | 'connecting' | 'connected' | 'closed';

/** An in-memory RelayClientLike on a FakeRelayNetwork (built by its `factory`). */
export class FakeRelayClient extends TypedEmitter<RelayClientLikeEvents> implements RelayClientLike {
  /** The URL it dials. */
  readonly url: string;
  /** Our WireGuard public key. */
  readonly localKey: PeerKey;
  /** The server's instance URL, once connected. */
  instanceUrl: string | undefined;
  /** How many times `close()` was called (the manager must close every client it drops). */
  closeCalls = 0;
  readonly #network: FakeRelayNetwork;
  readonly #options: RelayClientFactoryOptions;
  readonly #conns = new Map<string, FakeRelayConn>();
  #state: ClientState = 'new';
  #server: FakeRelayServer | undefined;
  /** The unanswered ping in flight: concurrent checks share it. */
  #ping: Promise<void> | undefined;
  readonly #closing = new AbortController();

  constructor(network: FakeRelayNetwork, url: string, options: RelayClientFactoryOptions) {
    super();
    this.#network = network;
    this.url = url;
    this.localKey = options.localKey;
    this.#options = options;
  }

  /** Where the client is in its lifecycle. */
  get state(): ClientState {
    return this.#state;
  }

  async connect(options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    if (this.#state === 'closed') throw new ClosedError('relay client is closed');
    if (this.#state === 'connected') return;
    throwIfAborted(signal);
    this.#state = 'connecting';
    const server = this.#network.server(this.url);
    const token = this.#options.token();
    server?.tokensSeen.push(token);
    const delay = server?.connectDelayMs ?? 0;
    try {
      if (delay > 0) await this.#network.clock.sleep(delay, signal ? { signal } : {});
    } catch (err) {
      if (this.#state === 'connecting') this.#state = 'new';
      throw err;
    }
    if (this.#state !== 'connecting') throw new ClosedError('relay client closed while connecting');
    if (!server?.up) {
      this.#state = 'new';
      throw new MeshError('ERR_RELAY_UNREACHABLE', `connect ECONNREFUSED ${this.url}`);
    }
    if (!server.acceptToken(token)) {
      this.#state = 'new';
      throw new MeshError('ERR_RELAY_AUTH', `relay server ${this.url} did not accept the token`);
    }
    this.#state = 'connected';
    this.#server = server;
    this.instanceUrl = server.instanceUrl;
    server._register(this);
  }

  async openConn(peer: PeerKey, options: { signal?: AbortSignal } = {}): Promise<DatagramPath> {
    const { signal } = options;
    if (this.#state !== 'connected' || !this.#server) throw new ClosedError('relay client is not connected');
    throwIfAborted(signal);
    const key = peer.base64;
    if (this.#conns.has(key)) {
      throw new MeshError('ERR_CONN_ALREADY_EXISTS', `a relay conn to ${peer.toShortString()} already exists`);
    }
    const conn = new FakeRelayConn(this, peer, this.#network.clock);
    this.#conns.set(key, conn);
    if (!this.#server.isOnline(peer)) {
      try {
        const signals = signal ? [signal, conn.waitSignal] : [conn.waitSignal];
        await onceEvent(this, 'peer-online', {
          filter: (p) => p.peerKey.base64 === key,
          timeoutMs: this.#network.openTimeoutMs,
          clock: this.#network.clock,
          signal: AbortSignal.any(signals),
        });
      } catch (err) {
        if (this.#conns.get(key) === conn) this.#conns.delete(key);
        conn._end({ reason: 'open-failed' });
        throw err;
      }
    }
    if (conn.closed) throw new ClosedError(`relay conn to ${peer.toShortString()} closed while opening`);
    conn.opened = true;
    return conn;
  }

  async checkAlive(options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const { signal } = options;
    throwIfAborted(signal);
    const server = this.#server;
    if (this.#state !== 'connected' || !server) return false;
    if (server._answers(this)) return true;
    this.#ping ??= this.#network.clock.sleep(this.#network.pongTimeoutMs, { signal: this.#closing.signal }).then(
      () => this._die('ping-timeout', new MeshError('ERR_TIMEOUT', 'no answer to a ping')),
      () => {}, // closed meanwhile
    );
    const ping = this.#ping;
    await (signal ? raceAbort(ping, signal) : ping);
    return false;
  }

  closeConnByPeerKey(peer: PeerKey): boolean {
    const conn = this.#conns.get(peer.base64);
    if (!conn) return false;
    this.#conns.delete(peer.base64);
    conn._end({ reason: 'closed-by-key' });
    return true;
  }

  hasConn(peer: PeerKey): boolean {
    return this.#conns.has(peer.base64);
  }

  /** The entry for `peer`, for tests that break it (see FakeRelayConn.stalled). */
  connTo(peer: PeerKey): FakeRelayConn | undefined {
    return this.#conns.get(peer.base64);
  }

  /** Like RelayClient: conns close with reason `client-closed`, no `disconnected` is emitted. */
  close(): void {
    this.closeCalls++;
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#closing.abort();
    this.#server?._unregister(this);
    this.#closeAll({ reason: 'client-closed' });
  }

  /** @internal Server connection lost. */
  _die(cause: string, error: Error): void {
    if (this.#state !== 'connected') return;
    this.#state = 'closed';
    if (this.#network.disconnectOrder === 'event-first') this.emit('disconnected', { cause, error });
    this.#closeAll({ reason: 'relay-disconnected', error });
    if (this.#network.disconnectOrder === 'conns-first') this.emit('disconnected', { cause, error });
  }

  #closeAll(info: PathCloseInfo): void {
    const conns = [...this.#conns.values()];
    this.#conns.clear();
    for (const c of conns) c._end(info);
  }

  /** @internal */
  _removeConn(conn: FakeRelayConn): void {
    if (this.#conns.get(conn.peer.base64) === conn) this.#conns.delete(conn.peer.base64);
  }

  /** @internal */
  _peerOnline(peer: PeerKey): void {
    if (this.#conns.has(peer.base64)) this.emit('peer-online', { peerKey: peer });
  }

  /** @internal */
  _peerOffline(peer: PeerKey): void {
    const conn = this.#conns.get(peer.base64);
    if (!conn?.opened) return;
    this.#conns.delete(peer.base64);
    conn._end({ reason: 'peer-offline' });
    this.emit('peer-offline', { peerKey: peer });
  }

  /** @internal */
  _send(to: PeerKey, datagram: Buffer): void {
    if (this.#state === 'connected') this.#server?._route(this.localKey, to, datagram);
  }

  /** @internal */
  _receive(from: PeerKey, datagram: Buffer): void {
    const conn = this.#conns.get(from.base64);
    if (conn?.opened) setImmediate(() => conn._deliver(datagram));
  }
}
