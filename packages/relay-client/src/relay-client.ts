import {
  abortReason,
  type Clock,
  ClosedError,
  InvalidArgumentError,
  type Logger,
  PeerKey,
  silentLogger,
  systemClock,
  TimeoutError,
  type Timer,
  toError,
} from '@mesh/core';
import { EventEmitter } from 'eventemitter3';
import WebSocket from 'ws';
import { EarlyMessageBuffer } from './early-buffer.js';
import {
  ConnAlreadyExistsError,
  PeerNotOnlineError,
  RelayAuthError,
  RelayConnectError,
  RelayDisconnectedError,
  RelayNotConnectedError,
} from './errors.js';
import {
  decodeServerMessage,
  encodeAuth,
  encodeClose,
  encodeHealthCheck,
  encodePeerIdList,
  encodeTransport,
  type ServerMessage,
} from './protocol/codec.js';
import { MAX_MESSAGE_SIZE } from './protocol/constants.js';
import { RelayProtocolError } from './protocol/errors.js';
import { PeerId } from './protocol/peer-id.js';
import { RelayConn, type RelayConnCloseReason, type RelayConnOwner } from './relay-conn.js';
import { relayWebSocketUrl } from './url.js';

/** A token: the binary v2 token, its base64 text, or a function returning either (called at connect). */
export type RelayTokenSource = Uint8Array | string | (() => Uint8Array | string);

export interface RelayClientOptions {
  /** `rel://host:port`, `rels://host:port`, `ws://…` or `wss://…` (the path is always `/relay`). */
  url: string;
  localKey: PeerKey;
  token: RelayTokenSource;
  clock?: Clock;
  logger?: Logger;
  /** Bound on opening the WebSocket (default 30 s, as NetBird's dial). */
  dialTimeoutMs?: number;
  /** Bound on the auth reply once the socket is open (default 8 s). */
  authTimeoutMs?: number;
  /** Bound on waiting for the remote peer to come online in `openConn` (default 30 s). */
  openTimeoutMs?: number;
  /**
   * Watchdog: the server pings every `intervalMs` (25 s); if no ping arrives within a window of
   * `intervalMs + timeoutMs` (35 s) the connection is declared dead.
   */
  healthCheck?: { intervalMs?: number; timeoutMs?: number };
  /**
   * Socket liveness (an RFC 6455 ping, which every WebSocket server answers: ours and NetBird's).
   * When the client sends while nothing has arrived for `idleMs` (2 s), it pings; when then nothing
   * at all arrives within `pongTimeoutMs` (3 s) the socket is dead (`disconnected`, cause
   * `ping-timeout`). Finds a half-open socket in seconds instead of the health-check window.
   */
  keepalive?: { idleMs?: number; pongTimeoutMs?: number };
  /** Per-conn receive queue while opening (default 100). */
  receiveQueueSize?: number;
  /** Early messages: newest per peer, kept `ttlMs` (5 s) for at most `maxPeers` (10,000) peers. */
  earlyBuffer?: { ttlMs?: number; maxPeers?: number };
  /** `send()` returns false while the socket has this many unsent bytes (default 1 MiB). */
  maxBufferedBytes?: number;
  /** TLS options for `rels://`/`wss://` (e.g. a test CA). */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean; servername?: string };
}

/** Why the server connection ended. */
export type RelayDisconnectCause =
  /** The server sent a close message (graceful shutdown). */
  | 'server-close'
  /** The socket closed or failed. */
  | 'socket-closed'
  /** No health check within the watchdog window. */
  | 'healthcheck-timeout'
  /** A WebSocket ping got no answer (nor anything else) within `keepalive.pongTimeoutMs`: half-open. */
  | 'ping-timeout'
  /** The server sent something this client cannot accept. */
  | 'protocol-error';

export interface RelayPeerEvent {
  peerKey: PeerKey;
  peerId: PeerId;
}

export interface RelayClientEvents {
  /**
   * The server connection was lost (not emitted for `close()`). Every conn has already closed with
   * reason `relay-disconnected`. The client is finished: a new one must be made to reconnect.
   */
  disconnected: (info: { cause: RelayDisconnectCause; error?: Error }) => void;
  /** The server reported a subscribed peer online. */
  'peer-online': (info: RelayPeerEvent) => void;
  /** The server reported a subscribed peer offline; its conn (if any) is already closed and removed. */
  'peer-offline': (info: RelayPeerEvent) => void;
}

interface Entry {
  conn: RelayConn;
  /** Set while openConn waits for the peer to come online. */
  waiter?: { resolve: () => void; reject: (err: Error) => void };
}

interface PendingPing {
  deadline: Timer;
  waiters: Array<(alive: boolean) => void>;
}

/** How long close() lets the close message flush before cutting the socket. */
const CLOSE_FLUSH_MS = 1_000;

type State = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

const DEFAULTS = {
  dialTimeoutMs: 30_000,
  authTimeoutMs: 8_000,
  openTimeoutMs: 30_000,
  intervalMs: 25_000,
  timeoutMs: 10_000,
  receiveQueueSize: 100,
  earlyTtlMs: 5_000,
  earlyMaxPeers: 10_000,
  maxBufferedBytes: 1 << 20,
  knownKeys: 4_096,
  keepaliveIdleMs: 2_000,
  pongTimeoutMs: 3_000,
};

/**
 * One connection to one relay server (NetBird relay protocol v1 over WebSocket), carrying one
 * RelayConn per remote peer. Single use: after `disconnected` or `close()` make a new client.
 */
export class RelayClient extends EventEmitter<RelayClientEvents> {
  readonly url: string;
  readonly localKey: PeerKey;
  readonly localPeerId: PeerId;
  readonly #opts: RelayClientOptions;
  readonly #clock: Clock;
  #log: Logger;
  readonly #entries = new Map<string, Entry>();
  /** id key → PeerKey of peers we subscribed to (bounded), so notifications can name the key. */
  readonly #known = new Map<string, PeerKey>();
  readonly #early: EarlyMessageBuffer;
  readonly #owner: RelayConnOwner;
  #ws: WebSocket | undefined;
  #state: State = 'idle';
  #instanceUrl: string | undefined;
  #watchdog: Timer | undefined;
  #alive = false;
  /** Monotonic time anything (a frame or a pong) last arrived. */
  #lastRxAt = 0;
  /** The ping in flight: its pong deadline and the `checkAlive` callers waiting on it. */
  #ping: PendingPing | undefined;
  readonly #idleMs: number;
  readonly #pongTimeoutMs: number;
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
    this.#early = new EarlyMessageBuffer(
      options.earlyBuffer?.ttlMs ?? DEFAULTS.earlyTtlMs,
      options.earlyBuffer?.maxPeers ?? DEFAULTS.earlyMaxPeers,
      () => this.#clock.monotonic(),
    );
    this.#owner = {
      write: (peerId, payload) => this.#write(peerId, payload),
      release: (conn) => this.#release(conn),
    };
    this.#idleMs = positive('keepalive.idleMs', options.keepalive?.idleMs ?? DEFAULTS.keepaliveIdleMs);
    this.#pongTimeoutMs = positive(
      'keepalive.pongTimeoutMs',
      options.keepalive?.pongTimeoutMs ?? DEFAULTS.pongTimeoutMs,
    );
  }

  /** The server's instance URL from the auth reply (undefined before connect). */
  get instanceUrl(): string | undefined {
    return this.#instanceUrl;
  }

  get connected(): boolean {
    return this.#state === 'connected';
  }

  /** Early messages and conn-level drops, for status and tests. */
  get earlyDropped(): number {
    return this.#early.dropped;
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
    let ws: WebSocket | undefined;
    let timer: Timer | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const auth = encodeAuth(this.localPeerId, this.#token());
      const socket = new WebSocket(relayWebSocketUrl(this.url), {
        perMessageDeflate: false,
        maxPayload: MAX_MESSAGE_SIZE,
        ...this.#opts.tls,
      });
      ws = socket;
      this.#ws = socket;
      let phase: 'dial' | 'auth' = 'dial';
      await new Promise<void>((resolve, reject) => {
        const arm = (ms: number, what: string) => {
          timer?.cancel();
          timer = this.#clock.setTimeout(() => reject(new TimeoutError(`relay ${what} timed out after ${ms} ms`)), ms);
        };
        this.#failConnect = reject;
        onAbort = () => reject(abortReason(signal!));
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        arm(this.#opts.dialTimeoutMs ?? DEFAULTS.dialTimeoutMs, 'dial');
        socket.on('unexpected-response', (_req, res) => {
          reject(new RelayConnectError(`relay ${this.url} answered HTTP ${res.statusCode} instead of a WebSocket`));
        });
        socket.on('error', (err) => {
          if (phase === 'dial') {
            reject(new RelayConnectError(`cannot connect to relay ${this.url}: ${err.message}`, { cause: err }));
          } else reject(new RelayAuthError(`relay ${this.url} failed during auth: ${err.message}`, { cause: err }));
        });
        socket.on('close', () => {
          reject(
            phase === 'dial'
              ? new RelayConnectError(`relay ${this.url} closed the connection while dialling`)
              : new RelayAuthError(`relay ${this.url} closed the connection without an auth reply (token rejected?)`),
          );
        });
        socket.on('open', () => {
          phase = 'auth';
          arm(this.#opts.authTimeoutMs ?? DEFAULTS.authTimeoutMs, 'auth reply');
          socket.send(auth, { binary: true });
        });
        socket.once('message', (data: Buffer, isBinary: boolean) => {
          try {
            this.#established(socket, authReply(data, isBinary));
            resolve();
          } catch (err) {
            reject(err);
          }
        });
      });
    } catch (err) {
      if (ws) {
        ws.removeAllListeners();
        ws.on('error', () => {});
        ws.terminate();
      }
      this.#ws = undefined;
      if (this.#state === 'connecting') this.#state = 'idle';
      this.#log.debug('relay-connect-failed', { error: toError(err) });
      throw err;
    } finally {
      timer?.cancel();
      this.#failConnect = undefined;
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Switches the socket to the connected handlers synchronously inside the auth reply's message event,
   * so frames that arrived in the same chunk (forwarded transport, say) are not lost.
   */
  #established(ws: WebSocket, instanceUrl: string): void {
    this.#instanceUrl = instanceUrl;
    this.#log = this.#log.child({ instance: instanceUrl });
    ws.removeAllListeners();
    ws.on('error', (err) => this.#disconnect('socket-closed', err));
    ws.on('close', () => this.#disconnect('socket-closed'));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.#received();
      this.#onFrame(data, isBinary);
    });
    ws.on('pong', () => this.#received());
    this.#lastRxAt = this.#clock.monotonic();
    this.#state = 'connected';
    this.#startWatchdog();
    this.#log.info('relay-connected');
  }

  #token(): Buffer {
    const src = this.#opts.token;
    const value = typeof src === 'function' ? src() : src;
    return typeof value === 'string' ? Buffer.from(value, 'base64') : Buffer.from(value);
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
    if (this.#entries.has(id.key)) throw new ConnAlreadyExistsError(key.toShortString());
    const { signal } = options;
    if (signal?.aborted) throw abortReason(signal);
    const conn = new RelayConn({
      owner: this.#owner,
      peerKey: key,
      peerId: id,
      serverUrl: this.#instanceUrl,
      receiveQueueSize: this.#opts.receiveQueueSize ?? DEFAULTS.receiveQueueSize,
      now: () => this.#clock.now(),
    });
    const entry: Entry = { conn };
    this.#entries.set(id.key, entry);
    this.#remember(id, key);
    const early = this.#early.pop(id.key);
    if (early) conn.deliver(early);
    const ms = this.#opts.openTimeoutMs ?? DEFAULTS.openTimeoutMs;
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
      if (this.#entries.get(id.key) === entry) {
        this.#entries.delete(id.key);
        this.#sendList('unsubscribe', [id]);
      }
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
    const entry = this.#entries.get(id.key);
    if (!entry) return false;
    this.#entries.delete(id.key);
    this.#sendList('unsubscribe', [id]);
    this.#finish(entry, 'closed-by-key', new ClosedError('the relay conn was closed by key while opening'));
    return true;
  }

  /** True when an entry (open or opening) exists for `peerKey`. */
  hasConn(peerKey: PeerKey | string): boolean {
    return this.#entries.has(PeerId.fromKey(PeerKey.from(peerKey)).key);
  }

  /** The open conns (entries still waiting for their peer are not included). */
  conns(): RelayConn[] {
    return [...this.#entries.values()].filter((e) => !e.waiter).map((e) => e.conn);
  }

  /** Number of entries, open or opening (what idle cleanup looks at). */
  get connCount(): number {
    return this.#entries.size;
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
    const ping = this.#sendPing();
    return new Promise<boolean>((resolve, reject) => {
      const onAbort = () => {
        ping.waiters.splice(ping.waiters.indexOf(done), 1);
        reject(abortReason(signal!));
      };
      const done = (alive: boolean) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(alive);
      };
      ping.waiters.push(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
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
      ws.removeAllListeners();
      ws.on('error', () => {});
      if (wasConnected && ws.readyState === WebSocket.OPEN) {
        // The close message gets a moment to leave; a socket that cannot take it is cut anyway.
        const cut = this.#clock.setTimeout(() => ws.terminate(), CLOSE_FLUSH_MS);
        ws.send(encodeClose(), { binary: true }, () => {
          cut.cancel();
          ws.terminate();
        });
      } else {
        ws.terminate();
      }
    }
    this.#log.info('relay-closed');
    this.removeAllListeners();
  }

  #teardown(reason: RelayConnCloseReason, error: Error): void {
    this.#watchdog?.cancel();
    this.#watchdog = undefined;
    this.#settlePing(false);
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    this.#early.clear();
    this.#known.clear();
    for (const e of entries) this.#finish(e, reason, error);
  }

  #finish(entry: Entry, reason: RelayConnCloseReason, error: Error): void {
    if (entry.waiter) entry.waiter.reject(error);
    else entry.conn.end(reason === 'relay-disconnected' ? { reason, error } : { reason });
  }

  #disconnect(cause: RelayDisconnectCause, error?: Error): void {
    if (this.#state !== 'connected') return;
    this.#state = 'disconnected';
    const err = new RelayDisconnectedError(`relay ${this.#instanceUrl} disconnected: ${cause}`, { cause: error });
    this.#log.info('relay-disconnected', { cause, error });
    this.#teardown('relay-disconnected', err);
    const ws = this.#ws;
    this.#ws = undefined;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
    }
    this.emit('disconnected', error ? { cause, error } : { cause });
    this.removeAllListeners();
  }

  #startWatchdog(): void {
    const { intervalMs = DEFAULTS.intervalMs, timeoutMs = DEFAULTS.timeoutMs } = this.#opts.healthCheck ?? {};
    this.#alive = false;
    this.#watchdog = this.#clock.setInterval(() => {
      if (this.#alive) {
        this.#alive = false;
        return;
      }
      this.#disconnect('healthcheck-timeout');
    }, intervalMs + timeoutMs);
  }

  /** Anything arrived: the socket delivers. */
  #received(): void {
    this.#lastRxAt = this.#clock.monotonic();
    this.#settlePing(true);
  }

  /** We are sending into silence: a half-open socket looks exactly like this, so ask. */
  #keepalive(): void {
    if (!this.#ping && this.#clock.monotonic() - this.#lastRxAt >= this.#idleMs) this.#sendPing();
  }

  #sendPing(): PendingPing {
    if (this.#ping) return this.#ping;
    const deadline = this.#clock.setTimeout(() => {
      this.#disconnect(
        'ping-timeout',
        new TimeoutError(`relay ${this.#instanceUrl} sent nothing within ${this.#pongTimeoutMs} ms of a ping`),
      );
    }, this.#pongTimeoutMs);
    const ping: PendingPing = { deadline, waiters: [] };
    this.#ping = ping;
    this.#ws?.ping();
    return ping;
  }

  #settlePing(alive: boolean): void {
    const ping = this.#ping;
    if (!ping) return;
    this.#ping = undefined;
    ping.deadline.cancel();
    for (const resolve of ping.waiters) resolve(alive);
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
      case 'transport': {
        const entry = this.#entries.get(msg.peerId.key);
        if (entry) entry.conn.deliver(msg.payload);
        else this.#early.put(msg.peerId.key, msg.payload);
        return;
      }
      case 'healthcheck':
        this.#alive = true;
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
    const entry = this.#entries.get(id.key);
    entry?.waiter?.resolve();
    const peerKey = this.#known.get(id.key);
    if (peerKey) this.emit('peer-online', { peerKey, peerId: id });
  }

  #onOffline(ids: PeerId[]): void {
    const removed: PeerId[] = [];
    for (const id of ids) {
      const entry = this.#entries.get(id.key);
      // An entry still waiting for its peer stays: the peer may come online within the bound.
      if (!entry || entry.waiter) continue;
      this.#entries.delete(id.key);
      removed.push(id);
      entry.conn.end({ reason: 'peer-offline' });
    }
    if (removed.length > 0) this.#sendList('unsubscribe', removed);
    for (const id of ids) {
      const peerKey = this.#known.get(id.key);
      if (peerKey) this.emit('peer-offline', { peerKey, peerId: id });
    }
  }

  #remember(id: PeerId, key: PeerKey): void {
    this.#known.delete(id.key);
    this.#known.set(id.key, key);
    if (this.#known.size > DEFAULTS.knownKeys) {
      const oldest = this.#known.keys().next().value;
      if (oldest !== undefined) this.#known.delete(oldest);
    }
  }

  #write(peerId: PeerId, payload: Uint8Array): boolean {
    const ws = this.#ws;
    if (this.#state !== 'connected' || !ws) return false;
    const entry = this.#entries.get(peerId.key);
    if (!entry || entry.waiter) return false;
    if (ws.bufferedAmount > (this.#opts.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes)) return false;
    ws.send(encodeTransport(peerId, payload), { binary: true });
    this.#keepalive();
    return true;
  }

  #release(conn: RelayConn): void {
    const entry = this.#entries.get(conn.peerId.key);
    if (entry?.conn !== conn) return;
    this.#entries.delete(conn.peerId.key);
    this.#sendList('unsubscribe', [conn.peerId]);
  }

  #sendList(type: 'subscribe' | 'unsubscribe', ids: PeerId[]): void {
    const ws = this.#ws;
    if (this.#state !== 'connected' || !ws) return;
    for (const frame of encodePeerIdList(type, ids)) ws.send(frame, { binary: true });
    this.#keepalive();
  }
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new InvalidArgumentError(`${name} must be > 0, got ${value}`);
  return value;
}

/** The instance URL from the first server message, which must be an auth response. */
function authReply(data: Buffer, isBinary: boolean): string {
  if (!isBinary) throw new RelayAuthError('relay answered auth with a text message');
  let msg: ServerMessage;
  try {
    msg = decodeServerMessage(data);
  } catch (err) {
    throw new RelayAuthError(`bad auth reply: ${toError(err).message}`, { cause: err });
  }
  if (msg.type !== 'auth-response') throw new RelayAuthError(`relay answered auth with ${msg.type}`);
  return msg.instanceUrl;
}
