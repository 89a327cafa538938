import {
  abortReason,
  type Clock,
  ClosedError,
  InvalidArgumentError,
  type Logger,
  PeerKey,
  silentLogger,
  systemClock,
  type Timer,
  TypedEmitter,
  toError,
} from '@mesh/core';
import WebSocket from 'ws';
import { type ConnEntry, ConnTable, finishEntry } from './conn-table.js';
import {
  AUTH_TIMEOUT_MS,
  CLOSE_FLUSH_MS,
  DIAL_TIMEOUT_MS,
  EARLY_BUFFER_MAX_PEERS,
  EARLY_BUFFER_TTL_MS,
  HEALTHCHECK_INTERVAL_MS,
  HEALTHCHECK_TIMEOUT_MS,
  KEEPALIVE_IDLE_MS,
  KNOWN_KEYS,
  MAX_BUFFERED_BYTES,
  OPEN_TIMEOUT_MS,
  PONG_TIMEOUT_MS,
  RECEIVE_QUEUE_SIZE,
} from './constants.js';
import {
  ConnAlreadyExistsError,
  PeerNotOnlineError,
  RelayDisconnectedError,
  RelayNotConnectedError,
} from './errors.js';
import type { RelayClientEvents, RelayDisconnectCause } from './events.js';
import { cut, handshake, silence } from './handshake.js';
import { Liveness } from './liveness.js';
import { type RelayClientOptions, tokenBytes } from './options.js';
import {
  decodeServerMessage,
  encodeAuth,
  encodeClose,
  encodeHealthCheck,
  encodePeerIdList,
  encodeTransport,
  type ServerMessage,
} from './protocol/codec.js';
import { RelayProtocolError } from './protocol/errors.js';
import { PeerId } from './protocol/peer-id.js';
import { RelayConn, type RelayConnOwner } from './relay-conn.js';
import { relayWebSocketUrl } from './url.js';

type State = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

/**
 * One connection to one relay server (NetBird relay protocol v1 over WebSocket), carrying one
 * RelayConn per remote peer. Single use: after `disconnected` or `close()` make a new client.
 */
export class RelayClient extends TypedEmitter<RelayClientEvents> {
  /** The server URL as given. */
  readonly url: string;
  /** Our WireGuard public key. */
  readonly localKey: PeerKey;
  /** Our relay peer id (derived from `localKey`). */
  readonly localPeerId: PeerId;
  readonly #opts: RelayClientOptions;
  readonly #clock: Clock;
  #log: Logger;
  readonly #table: ConnTable;
  readonly #liveness: Liveness;
  readonly #owner: RelayConnOwner;
  #ws: WebSocket | undefined;
  #state: State = 'idle';
  #instanceUrl: string | undefined;
  #connecting: Promise<void> | undefined;
  /** Rejects the connect in progress (close() while connecting). */
  #failConnect: ((err: Error) => void) | undefined;

  constructor(options: RelayClientOptions) {
    super();
    this.#opts = options;
    this.url = options.url;
    relayWebSocketUrl(options.url); // validate early: a bad URL is a constructor error
    this.localKey = PeerKey.from(options.localKey);
    this.localPeerId = PeerId.fromKey(this.localKey);
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? silentLogger).child({ relay: options.url });
    this.#table = new ConnTable(
      {
        ttlMs: options.earlyBuffer?.ttlMs ?? EARLY_BUFFER_TTL_MS,
        maxPeers: options.earlyBuffer?.maxPeers ?? EARLY_BUFFER_MAX_PEERS,
        now: () => this.#clock.monotonic(),
      },
      KNOWN_KEYS,
    );
    this.#owner = {
      write: (peerId, payload) => this.#write(peerId, payload),
      release: (conn) => this.#release(conn),
    };
    const { intervalMs = HEALTHCHECK_INTERVAL_MS, timeoutMs = HEALTHCHECK_TIMEOUT_MS } = options.healthCheck ?? {};
    this.#liveness = new Liveness({
      clock: this.#clock,
      intervalMs,
      timeoutMs,
      idleMs: positive('keepalive.idleMs', options.keepalive?.idleMs ?? KEEPALIVE_IDLE_MS),
      pongTimeoutMs: positive('keepalive.pongTimeoutMs', options.keepalive?.pongTimeoutMs ?? PONG_TIMEOUT_MS),
      ping: () => this.#ws?.ping(),
      dead: (cause, error) => this.#disconnect(cause, error),
    });
  }

  /** The server's instance URL from the auth reply (undefined before connect). */
  get instanceUrl(): string | undefined {
    return this.#instanceUrl;
  }

  /** True between a successful connect() and the end of the connection. */
  get connected(): boolean {
    return this.#state === 'connected';
  }

  /** Early messages and conn-level drops, for status and tests. */
  get earlyDropped(): number {
    return this.#table.earlyDropped;
  }

  /**
   * Dials, authenticates and resolves after the auth reply. Concurrent calls share one attempt;
   * calling again once connected resolves at once. Rejects RelayConnectError (dial), RelayAuthError
   * (closed without reply / bad reply), TimeoutError, AbortError, ClosedError (closed or finished).
   */
  connect(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#state === 'connected') return Promise.resolve();
    if (this.#state === 'closed' || this.#state === 'disconnected') {
      return Promise.reject(new ClosedError(`relay client for ${this.url} is ${this.#state}; make a new one`));
    }
    if (!this.#connecting) {
      const attempt = this.#connect(options.signal);
      this.#connecting = attempt;
      // A failed attempt may be retried (with a fresh token, say).
      attempt.catch(() => {
        if (this.#connecting === attempt) this.#connecting = undefined;
      });
    }
    return this.#connecting;
  }

  async #connect(signal: AbortSignal | undefined): Promise<void> {
    this.#state = 'connecting';
    try {
      const attempt = handshake({
        url: this.url,
        auth: encodeAuth(this.localPeerId, tokenBytes(this.#opts.token)),
        tls: this.#opts.tls,
        clock: this.#clock,
        dialTimeoutMs: this.#opts.dialTimeoutMs ?? DIAL_TIMEOUT_MS,
        authTimeoutMs: this.#opts.authTimeoutMs ?? AUTH_TIMEOUT_MS,
        signal,
        established: (socket, instanceUrl) => this.#established(socket, instanceUrl),
      });
      this.#ws = attempt.socket;
      this.#failConnect = attempt.fail;
      await attempt.done;
    } catch (err) {
      this.#ws = undefined;
      if (this.#state === 'connecting') this.#state = 'idle';
      this.#log.debug('relay-connect-failed', { error: toError(err) });
      throw err;
    } finally {
      this.#failConnect = undefined;
    }
  }

  /** Switches the socket to the connected handlers (inside the auth reply's message event). */
  #established(ws: WebSocket, instanceUrl: string): void {
    this.#instanceUrl = instanceUrl;
    this.#log = this.#log.child({ instance: instanceUrl });
    ws.removeAllListeners();
    ws.on('error', (err) => this.#disconnect('socket-closed', err));
    ws.on('close', () => this.#disconnect('socket-closed'));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.#liveness.received();
      this.#onFrame(data, isBinary);
    });
    ws.on('pong', () => this.#liveness.received());
    this.#state = 'connected';
    this.#liveness.start(instanceUrl);
    this.#log.info('relay-connected');
  }

  /**
   * Opens a conn to `peerKey` on this server: subscribes and resolves once the server reports the
   * peer online (bounded by `openTimeoutMs`). Rejects ConnAlreadyExistsError when an entry exists
   * (open or still opening: of two concurrent calls exactly one wins), PeerNotOnlineError,
   * RelayNotConnectedError, RelayDisconnectedError, ClosedError (entry closed meanwhile), AbortError.
   */
  async openConn(peerKey: PeerKey | string, options: { signal?: AbortSignal } = {}): Promise<RelayConn> {
    const key = PeerKey.from(peerKey);
    if (this.#state !== 'connected' || !this.#instanceUrl) throw new RelayNotConnectedError();
    const id = PeerId.fromKey(key);
    if (this.#table.has(id)) throw new ConnAlreadyExistsError(key.toShortString());
    const { signal } = options;
    if (signal?.aborted) throw abortReason(signal);
    const conn = new RelayConn({
      owner: this.#owner,
      peerKey: key,
      peerId: id,
      serverUrl: this.#instanceUrl,
      receiveQueueSize: this.#opts.receiveQueueSize ?? RECEIVE_QUEUE_SIZE,
      now: () => this.#clock.now(),
    });
    const entry: ConnEntry = { conn };
    this.#table.add(id, key, entry);
    const ms = this.#opts.openTimeoutMs ?? OPEN_TIMEOUT_MS;
    let timer: Timer | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        entry.waiter = { resolve, reject };
        timer = this.#clock.setTimeout(() => reject(new PeerNotOnlineError(key.toShortString(), ms)), ms);
        onAbort = () => reject(abortReason(signal!));
        signal?.addEventListener('abort', onAbort, { once: true });
        this.#sendList('subscribe', [id]);
      });
    } catch (err) {
      if (this.#table.remove(id, entry)) this.#sendList('unsubscribe', [id]);
      conn.end({ reason: 'local', error: toError(err) });
      throw err;
    } finally {
      entry.waiter = undefined;
      timer?.cancel();
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
    conn.open();
    this.#log.debug('relay-conn-open', { peer: key.toShortString() });
    return conn;
  }

  /** Closes and removes the entry for `peerKey` (open or still opening). True when there was one. */
  closeConnByPeerKey(peerKey: PeerKey | string): boolean {
    const id = PeerId.fromKey(PeerKey.from(peerKey));
    const entry = this.#table.take(id);
    if (!entry) return false;
    this.#sendList('unsubscribe', [id]);
    finishEntry(entry, 'closed-by-key', new ClosedError('the relay conn was closed by key while opening'));
    return true;
  }

  /** True when an entry (open or opening) exists for `peerKey`. */
  hasConn(peerKey: PeerKey | string): boolean {
    return this.#table.has(PeerId.fromKey(PeerKey.from(peerKey)));
  }

  /** The open conns (entries still waiting for their peer are not included). */
  conns(): RelayConn[] {
    return this.#table.openConns();
  }

  /** Number of entries, open or opening (what idle cleanup looks at). */
  get connCount(): number {
    return this.#table.size;
  }

  /**
   * Proves the socket still delivers: sends a WebSocket ping and resolves true as soon as anything
   * arrives (the pong or any frame). When nothing arrives within `keepalive.pongTimeoutMs` the
   * connection is dead: `disconnected` (cause `ping-timeout`) is emitted and this resolves false.
   * False at once when not connected. Concurrent calls share one ping; `signal` only ends this
   * caller's wait (rejects ERR_ABORTED).
   */
  checkAlive(options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.#state !== 'connected') return Promise.resolve(false);
    return this.#liveness.check({ signal });
  }

  /**
   * Graceful close: every conn closes (reason `client-closed`), a close message goes to the server,
   * the socket closes. Idempotent; emits no `disconnected`.
   */
  close(): void {
    if (this.#state === 'closed') return;
    const wasConnected = this.#state === 'connected';
    this.#state = 'closed';
    this.#failConnect?.(new ClosedError('the relay client was closed while connecting'));
    this.#teardown('client-closed', new ClosedError('the relay client was closed'));
    const ws = this.#ws;
    this.#ws = undefined;
    if (ws) {
      silence(ws);
      if (wasConnected && ws.readyState === WebSocket.OPEN) {
        // The close message gets a moment to leave; a socket that cannot take it is cut anyway.
        const flushed = this.#clock.setTimeout(() => ws.terminate(), CLOSE_FLUSH_MS);
        ws.send(encodeClose(), { binary: true }, () => {
          flushed.cancel();
          ws.terminate();
        });
      } else {
        ws.terminate();
      }
    }
    this.#log.info('relay-closed');
    this.removeAllListeners();
  }

  #teardown(reason: 'client-closed' | 'relay-disconnected', error: Error): void {
    this.#liveness.stop();
    this.#table.clear(reason, error);
  }

  #disconnect(cause: RelayDisconnectCause, error?: Error): void {
    if (this.#state !== 'connected') return;
    this.#state = 'disconnected';
    const err = new RelayDisconnectedError(`relay ${this.#instanceUrl} disconnected: ${cause}`, { cause: error });
    this.#log.info('relay-disconnected', { cause, error });
    this.#teardown('relay-disconnected', err);
    const ws = this.#ws;
    this.#ws = undefined;
    if (ws) cut(ws);
    this.emit('disconnected', error ? { cause, error } : { cause });
    this.removeAllListeners();
  }

  #onFrame(data: Buffer, isBinary: boolean): void {
    if (this.#state !== 'connected') return;
    let msg: ServerMessage;
    try {
      if (!isBinary) throw new RelayProtocolError('type', 'text message');
      msg = decodeServerMessage(data);
    } catch (err) {
      // NetBird's client logs and skips what it cannot read; so do we.
      this.#log.debug('relay-bad-frame', { error: toError(err) });
      return;
    }
    switch (msg.type) {
      case 'transport':
        this.#table.deliver(msg.peerId, msg.payload);
        return;
      case 'healthcheck':
        this.#liveness.healthCheck();
        this.#ws?.send(encodeHealthCheck(), { binary: true });
        return;
      case 'peers-online':
        for (const id of msg.peerIds) this.#onOnline(id);
        return;
      case 'peers-offline':
        this.#onOffline(msg.peerIds);
        return;
      case 'close':
        this.#disconnect('server-close');
        return;
      case 'auth-response':
        this.#disconnect('protocol-error', new RelayProtocolError('type', 'a second auth response'));
        return;
    }
  }

  #onOnline(id: PeerId): void {
    this.#table.get(id)?.waiter?.resolve();
    const peerKey = this.#table.keyOf(id);
    if (peerKey) this.emit('peer-online', { peerKey, peerId: id });
  }

  #onOffline(ids: PeerId[]): void {
    const removed: PeerId[] = [];
    for (const id of ids) {
      const entry = this.#table.get(id);
      // An entry still waiting for its peer stays: the peer may come online within the bound.
      if (!entry || entry.waiter) continue;
      this.#table.take(id);
      removed.push(id);
      entry.conn.end({ reason: 'peer-offline' });
    }
    if (removed.length > 0) this.#sendList('unsubscribe', removed);
    for (const id of ids) {
      const peerKey = this.#table.keyOf(id);
      if (peerKey) this.emit('peer-offline', { peerKey, peerId: id });
    }
  }

  #write(peerId: PeerId, payload: Uint8Array): boolean {
    const ws = this.#ws;
    if (this.#state !== 'connected' || !ws) return false;
    const entry = this.#table.get(peerId);
    if (!entry || entry.waiter) return false;
    if (ws.bufferedAmount > (this.#opts.maxBufferedBytes ?? MAX_BUFFERED_BYTES)) return false;
    ws.send(encodeTransport(peerId, payload), { binary: true });
    this.#liveness.sent();
    return true;
  }

  #release(conn: RelayConn): void {
    const entry = this.#table.get(conn.peerId);
    if (entry?.conn !== conn) return;
    this.#table.take(conn.peerId);
    this.#sendList('unsubscribe', [conn.peerId]);
  }

  #sendList(type: 'subscribe' | 'unsubscribe', ids: PeerId[]): void {
    const ws = this.#ws;
    if (this.#state !== 'connected' || !ws) return;
    for (const frame of encodePeerIdList(type, ids)) ws.send(frame, { binary: true });
    this.#liveness.sent();
  }
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new InvalidArgumentError(`${name} must be > 0, got ${value}`);
  return value;
}
