import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type Clock,
  InvalidArgumentError,
  type Logger,
  MeshError,
  PeerKey,
  silentLogger,
  systemClock,
  type Timer,
} from '@mesh/core';
import {
  decodeClientMessage,
  encodeAuthResponse,
  encodeClose,
  encodeHealthCheck,
  encodePeerIdList,
  MAX_AUTH_MESSAGE_SIZE,
  MAX_MESSAGE_SIZE,
  MsgType,
  PeerId,
  PROTOCOL_VERSION,
  RELAY_WS_PATH,
  RelayProtocolError,
  relayTokenKey,
  type TokenVerdict,
  TRANSPORT_HEADER_SIZE,
  transportPeerKey,
  verifyRelayToken,
} from '@mesh/relay-client';
import { EventEmitter } from 'eventemitter3';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { listen } from './listen.js';
import { type DisconnectCause, type DropCause, MetricsRegistry, type RelayServerMetrics } from './metrics.js';

export interface RelayServerOptions {
  /** Address to listen on (default 127.0.0.1, port 0 = ephemeral). */
  host?: string;
  port?: number;
  /** What clients are told to use: `rel://host:port` / `rels://host:port`, or `host:port` (scheme from TLS). */
  exposedAddress: string;
  /** Shared relay secret: tokens are HMAC-SHA256 v2 keyed with SHA-256(secret). */
  secret?: string;
  /** Custom token check, instead of `secret`. */
  verifyToken?: (token: Buffer, peerId: PeerId) => TokenVerdict;
  /** PEM cert and key: serve wss (and the instance URL scheme becomes rels). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  clock?: Clock;
  logger?: Logger;
  /** A connection must authenticate within this (default 10 s, as NetBird). */
  authTimeoutMs?: number;
  /** Ping every `intervalMs` (25 s); an echo must arrive within each `intervalMs + timeoutMs` window (45 s). */
  healthCheck?: { intervalMs?: number; timeoutMs?: number };
  /** Per-destination bound: a transport message is dropped while the receiver has this much unsent (1 MiB). */
  maxBufferedBytes?: number;
  /** A peer whose unsent backlog exceeds this even for control messages is disconnected (8 MiB). */
  maxControlBufferedBytes?: number;
  /** Graceful stop waits this long for peers to take the close message (3 s). */
  shutdownTimeoutMs?: number;
  /** Metrics in the Prometheus text format on `GET /metrics` of this address. */
  metrics?: { host?: string; port: number };
  /** Enables `server.faults` (tests only). */
  faultInjection?: boolean;
}

export interface RelayServerEvents {
  'peer-connected': (info: { peerId: PeerId; replaced: boolean }) => void;
  'peer-disconnected': (info: { peerId: PeerId; cause: DisconnectCause }) => void;
  /** A connection closed before it authenticated. */
  'connection-rejected': (info: { cause: DisconnectCause; reason: string }) => void;
}

/** Thrown by `start()` when the listener cannot be opened: code `ERR_RELAY_LISTEN`. */
export class RelayListenError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_RELAY_LISTEN', message, options);
  }
}

/** `server.faults` without `faultInjection: true`: code `ERR_FAULT_INJECTION_DISABLED`. */
export class FaultInjectionDisabledError extends MeshError {
  constructor() {
    super('ERR_FAULT_INJECTION_DISABLED', 'fault injection is disabled (start the server with faultInjection: true)');
  }
}

/** A peer given as its WireGuard key (PeerKey or base64/hex text), its relay PeerId, or NetBird's id text. */
export type PeerRef = PeerKey | PeerId | string;

export function toPeerId(ref: PeerRef): PeerId {
  if (ref instanceof PeerId) return ref;
  if (typeof ref === 'string' && ref.startsWith('sha-')) {
    const digest = Buffer.from(ref.slice(4), 'base64');
    if (digest.length !== 32) throw new InvalidArgumentError(`invalid relay peer id ${JSON.stringify(ref)}`);
    return PeerId.fromBytes(Buffer.concat([Buffer.from('sha-'), digest]));
  }
  return PeerId.fromKey(PeerKey.from(ref));
}

/** Test-only switches that reproduce silent failures iptables cannot (field-failures §1, §15). */
export interface RelayFaults {
  /** Drops transport between `a` and `b` (both directions); health checks keep being answered. */
  stallPair(a: PeerRef, b: PeerRef): void;
  unstallPair(a: PeerRef, b: PeerRef): void;
  /**
   * Forgets `peer`'s session without telling its subscribers. By default the socket is cut without a
   * close message (like `ss -K`); with `keepSocket` it stays open and health checks continue, but
   * nothing is routed to or from it. Returns false when the peer was not connected.
   */
  dropSession(peer: PeerRef, options?: { keepSocket?: boolean }): boolean;
  /** Clears stalls (dropped sessions stay dropped). */
  reset(): void;
}

interface Notification {
  online: boolean;
  id: PeerId;
}

/** One authenticated peer connection. */
class Session {
  readonly onlineInterest = new Set<string>();
  readonly offlineInterest = new Set<string>();
  readonly notifications: Notification[] = [];
  flushScheduled = false;
  /** Set when an echo arrived in the current health-check window (NetBird starts it false). */
  alive = false;
  closed = false;
  /** Fault injection: routing forgot this session but its socket stays open. */
  blackholed = false;
  timers: Timer[] = [];
  constructor(
    readonly id: PeerId,
    readonly ws: WebSocket,
    readonly log: Logger,
  ) {}
}

const DEFAULTS = {
  authTimeoutMs: 10_000,
  intervalMs: 25_000,
  timeoutMs: 20_000,
  maxBufferedBytes: 1 << 20,
  maxControlBufferedBytes: 8 << 20,
  shutdownTimeoutMs: 3_000,
};

/**
 * A relay server speaking NetBird relay protocol v1 over WebSocket (`/relay`, binary messages).
 * Beyond NetBird: a re-authenticating peer's subscribers are told offline then online (F-R-6), and
 * forwarding never waits on a receiver — each destination's unsent bytes are bounded and excess
 * transport is dropped and counted (F-R-16).
 */
export class RelayServer extends EventEmitter<RelayServerEvents> {
  readonly instanceUrl: string;
  readonly #opts: RelayServerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #verify: (token: Buffer, peerId: PeerId) => TokenVerdict;
  readonly #metrics = new MetricsRegistry();
  readonly #peers = new Map<string, Session>();
  /** id key → sessions holding offline interest in it. */
  readonly #watchers = new Map<string, Set<Session>>();
  readonly #pending = new Set<WebSocket>();
  readonly #sessions = new Set<Session>();
  readonly #stalled = new Set<string>();
  #http: HttpServer | undefined;
  #metricsHttp: HttpServer | undefined;
  #wss: WebSocketServer | undefined;
  #state: 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' = 'idle';
  #stopped: Promise<void> | undefined;
  #starting: Promise<{ host: string; port: number }> | undefined;
  #faults: RelayFaults | undefined;

  constructor(options: RelayServerOptions) {
    super();
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? silentLogger;
    this.instanceUrl = instanceUrlOf(options.exposedAddress, options.tls !== undefined);
    if (options.verifyToken) {
      this.#verify = options.verifyToken;
    } else if (typeof options.secret === 'string' && options.secret.length > 0) {
      const key = relayTokenKey(options.secret);
      this.#verify = (token) => verifyRelayToken(token, key, { now: this.#clock.now() });
    } else {
      throw new InvalidArgumentError('RelayServer needs a non-empty secret or a verifyToken function');
    }
    if (options.faultInjection) this.#faults = this.#makeFaults();
  }

  /** Listens; resolves once the ws (and metrics) listeners are bound. Idempotent (concurrent calls share one start). */
  start(): Promise<{ host: string; port: number }> {
    if (this.#state === 'idle') this.#starting = this.#start();
    else if (this.#state !== 'starting' && this.#state !== 'running') {
      return Promise.reject(new MeshError('ERR_CLOSED', `cannot start a relay server that is ${this.#state}`));
    }
    return this.#starting!;
  }

  async #start(): Promise<{ host: string; port: number }> {
    this.#state = 'starting';
    const { tls } = this.#opts;
    const http = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }) : createHttpServer();
    http.headersTimeout = 5_000;
    http.requestTimeout = 5_000;
    http.on('request', (_req, res) => {
      res.writeHead(404).end();
    });
    http.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket, head));
    http.on('clientError', (_err, socket) => socket.destroy());
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: MAX_MESSAGE_SIZE,
      clientTracking: false,
    });
    this.#http = http;
    try {
      await listen(http, this.#opts.port ?? 0, this.#opts.host ?? '127.0.0.1');
      if (this.#opts.metrics) {
        this.#metricsHttp = createHttpServer((req, res) => {
          if (req.method === 'GET' && req.url === '/metrics') {
            res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(this.metricsText());
          } else {
            res.writeHead(404).end();
          }
        });
        await listen(this.#metricsHttp, this.#opts.metrics.port, this.#opts.metrics.host ?? '127.0.0.1');
      }
    } catch (err) {
      this.#state = 'stopped';
      http.close();
      this.#metricsHttp?.close();
      throw new RelayListenError(`relay server could not listen: ${String((err as Error).message)}`, { cause: err });
    }
    this.#state = 'running';
    const addr = this.address();
    this.#log.info('relay-listening', { ...addr, instanceUrl: this.instanceUrl, tls: tls !== undefined });
    return addr;
  }

  address(): { host: string; port: number } {
    const a = this.#http?.address() as AddressInfo | null | undefined;
    if (!a) throw new MeshError('ERR_CLOSED', 'the relay server is not listening');
    return { host: a.address, port: a.port };
  }

  /** `ws://` / `wss://` URL of the relay endpoint on the bound address (handy for tests and local clients). */
  get url(): string {
    const { host, port } = this.address();
    const h = host.includes(':') ? `[${host}]` : host;
    return `${this.#opts.tls ? 'wss' : 'ws'}://${h}:${port}${RELAY_WS_PATH}`;
  }

  metricsAddress(): { host: string; port: number } | undefined {
    const a = this.#metricsHttp?.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : undefined;
  }

  metrics(): RelayServerMetrics {
    return this.#metrics.snapshot(this.#gauges());
  }

  metricsText(): string {
    return this.#metrics.text(this.#gauges());
  }

  /** Authenticated peers currently routed. */
  peers(): PeerId[] {
    return [...this.#peers.values()].map((s) => s.id);
  }

  hasPeer(peer: PeerRef): boolean {
    return this.#peers.has(toPeerId(peer).key);
  }

  get faults(): RelayFaults {
    if (!this.#faults) throw new FaultInjectionDisabledError();
    return this.#faults;
  }

  /**
   * Stops accepting, sends every peer a close message, closes all connections and listeners.
   * Idempotent; nothing is emitted after it resolves.
   */
  stop(): Promise<void> {
    if (this.#stopped) return this.#stopped;
    this.#stopped = this.#shutdown();
    return this.#stopped;
  }

  #gauges() {
    return { connectedPeers: this.#peers.size, pendingConnections: this.#pending.size };
  }

  async #shutdown(): Promise<void> {
    // A start in flight finishes first, so its listeners are closed below rather than leaked.
    await this.#starting?.catch(() => {});
    const wasRunning = this.#state === 'running';
    this.#state = 'stopping';
    const http = this.#http;
    const closedHttp = http ? new Promise<void>((r) => http.close(() => r())) : Promise.resolve();
    for (const ws of this.#pending) ws.terminate();
    const sessions = [...this.#sessions];
    const gone = sessions.map((s) => this.#closeGracefully(s));
    await Promise.all(gone);
    http?.closeAllConnections();
    await closedHttp;
    const mh = this.#metricsHttp;
    if (mh) {
      mh.closeAllConnections();
      await new Promise<void>((r) => mh.close(() => r()));
    }
    this.#wss?.close();
    this.#state = 'stopped';
    if (wasRunning) this.#log.info('relay-stopped', { peersClosed: sessions.length });
    this.removeAllListeners();
  }

  /** Close message first (bounded wait for it to flush), then the socket. */
  #closeGracefully(s: Session): Promise<void> {
    const ws = s.ws;
    const done = new Promise<void>((resolve) => {
      if (ws.readyState === ws.CLOSED) return resolve();
      ws.once('close', () => resolve());
    });
    const timer = this.#clock.setTimeout(
      () => ws.terminate(),
      this.#opts.shutdownTimeoutMs ?? DEFAULTS.shutdownTimeoutMs,
    );
    this.#endSession(s, 'shutdown', { notify: false });
    ws.send(encodeClose(), { binary: true }, () => ws.close(1000));
    return done.finally(() => timer.cancel());
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    if (this.#state !== 'running' || path !== RELAY_WS_PATH || !this.#wss) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', () => socket.destroy());
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req));
  }

  #accept(ws: WebSocket, req: IncomingMessage): void {
    if (this.#state !== 'running') {
      ws.terminate();
      return;
    }
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    this.#pending.add(ws);
    let session: Session | undefined;
    const reject = (cause: DisconnectCause, reason: string) => {
      if (!this.#pending.delete(ws)) return;
      authTimer.cancel();
      this.#metrics.disconnect(cause);
      if (cause === 'auth-failed') this.#metrics.authFailure(reason);
      this.#log.debug('relay-conn-rejected', { remote, cause, reason });
      // NetBird closes without any response: no close message, no close frame.
      ws.terminate();
      this.emit('connection-rejected', { cause, reason });
    };
    const authTimer = this.#clock.setTimeout(
      () => reject('auth-timeout', 'timeout'),
      this.#opts.authTimeoutMs ?? DEFAULTS.authTimeoutMs,
    );
    ws.on('error', (err) => this.#log.debug('relay-ws-error', { remote, error: err }));
    ws.on('close', () => {
      if (session) this.#endSession(session, 'socket-closed');
      else reject('socket-closed', 'closed before auth');
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (session) {
        this.#onSessionMessage(session, data as Buffer, isBinary);
        return;
      }
      if (!this.#pending.has(ws)) return;
      const frame = data as Buffer;
      if (!isBinary) return reject('not-binary', 'text message');
      if (frame.length > MAX_AUTH_MESSAGE_SIZE) return reject('auth-failed', 'oversize');
      let peerId: PeerId;
      let token: Buffer;
      try {
        const msg = decodeClientMessage(frame);
        if (msg.type !== 'auth') return reject('protocol-error', `${msg.type} before auth`);
        ({ peerId, token } = msg);
      } catch (err) {
        return reject('protocol-error', err instanceof RelayProtocolError ? err.reason : 'decode');
      }
      let verdict: TokenVerdict;
      try {
        verdict = this.#verify(token, peerId);
      } catch {
        verdict = { valid: false, reason: 'malformed' };
      }
      if (!verdict.valid) return reject('auth-failed', verdict.reason);
      this.#pending.delete(ws);
      authTimer.cancel();
      session = this.#register(peerId, ws, remote);
    });
  }

  #register(id: PeerId, ws: WebSocket, remote: string): Session {
    const s = new Session(id, ws, this.#log.child({ peer: id.toString() }));
    this.#sessions.add(s);
    // The reply goes out before the peer is routable, so nothing forwarded can overtake it.
    ws.send(encodeAuthResponse(this.instanceUrl), { binary: true });
    const old = this.#peers.get(id.key);
    if (old) this.#endSession(old, 'replaced', { notify: false });
    this.#peers.set(id.key, s);
    this.#startHealthCheck(s);
    s.log.info('relay-peer-connected', { remote, replaced: old !== undefined });
    if (old) {
      // F-R-6: NetBird tells nobody; we tell every watcher offline then online, so clients drop
      // entries bound to the dead session.
      for (const w of this.#watchers.get(id.key) ?? []) {
        w.onlineInterest.delete(id.key);
        this.#notify(w, { online: false, id });
        this.#notify(w, { online: true, id });
      }
    } else {
      for (const w of this.#watchers.get(id.key) ?? []) {
        if (w.onlineInterest.delete(id.key)) this.#notify(w, { online: true, id });
      }
    }
    this.emit('peer-connected', { peerId: id, replaced: old !== undefined });
    return s;
  }

  #startHealthCheck(s: Session): void {
    const { intervalMs = DEFAULTS.intervalMs, timeoutMs = DEFAULTS.timeoutMs } = this.#opts.healthCheck ?? {};
    s.timers.push(
      this.#clock.setInterval(() => this.#sendControl(s, encodeHealthCheck()), intervalMs),
      this.#clock.setInterval(() => {
        if (s.alive) {
          s.alive = false;
          return;
        }
        s.log.info('relay-healthcheck-timeout');
        this.#endSession(s, 'healthcheck-timeout');
      }, intervalMs + timeoutMs),
    );
  }

  #onSessionMessage(s: Session, frame: Buffer, isBinary: boolean): void {
    if (s.closed) return;
    if (!isBinary) {
      this.#endSession(s, 'not-binary');
      return;
    }
    if (frame.length >= TRANSPORT_HEADER_SIZE && frame[0] === PROTOCOL_VERSION && frame[1] === MsgType.Transport) {
      this.#forward(s, frame);
      return;
    }
    let msg: ReturnType<typeof decodeClientMessage>;
    try {
      msg = decodeClientMessage(frame);
    } catch (err) {
      s.log.debug('relay-protocol-error', { reason: err instanceof RelayProtocolError ? err.reason : 'decode' });
      this.#endSession(s, 'protocol-error');
      return;
    }
    switch (msg.type) {
      case 'healthcheck':
        s.alive = true;
        return;
      case 'close':
        this.#endSession(s, 'client-close');
        return;
      case 'subscribe':
        this.#subscribe(s, msg.peerIds);
        return;
      case 'unsubscribe':
        this.#unsubscribe(s, msg.peerIds);
        return;
      default:
        // A second auth (or a transport that slipped the fast path: impossible) is a protocol error.
        this.#endSession(s, 'protocol-error');
    }
  }

  #forward(s: Session, frame: Buffer): void {
    const dropped = this.#route(s, frame);
    if (dropped) this.#metrics.drop(dropped);
  }

  /** Forwards one transport frame; returns why it was dropped, if it was. */
  #route(s: Session, frame: Buffer): DropCause | undefined {
    if (s.blackholed) return 'fault-dropped';
    const destKey = transportPeerKey(frame);
    const dest = this.#peers.get(destKey);
    if (!dest) return 'no-route';
    if (this.#stalled.size > 0 && this.#stalled.has(pairKey(s.id.key, destKey))) return 'fault-stall';
    if (dest.ws.bufferedAmount + frame.length > (this.#opts.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes)) {
      return 'queue-full';
    }
    // The id field becomes the source id; ws hands us a private buffer per message.
    s.id.bytes.copy(frame, 2);
    dest.ws.send(frame, { binary: true });
    this.#metrics.messagesForwarded++;
    this.#metrics.bytesForwarded += frame.length;
    return undefined;
  }

  #subscribe(s: Session, ids: PeerId[]): void {
    const online: PeerId[] = [];
    for (const id of ids) {
      s.offlineInterest.add(id.key);
      const set = this.#watchers.get(id.key) ?? new Set<Session>();
      this.#watchers.set(id.key, set);
      set.add(s);
      const peer = this.#peers.get(id.key);
      if (peer && !peer.blackholed) online.push(id);
      else s.onlineInterest.add(id.key);
    }
    for (const id of online) this.#notify(s, { online: true, id });
  }

  #unsubscribe(s: Session, ids: PeerId[]): void {
    for (const id of ids) {
      s.onlineInterest.delete(id.key);
      s.offlineInterest.delete(id.key);
      this.#unwatch(s, id.key);
    }
  }

  #unwatch(s: Session, key: string): void {
    const set = this.#watchers.get(key);
    if (!set) return;
    set.delete(s);
    if (set.size === 0) this.#watchers.delete(key);
  }

  /** Queues a notification; all queued in one turn go out batched, in order, split at 244 ids. */
  #notify(s: Session, n: Notification): void {
    if (s.closed) return;
    s.notifications.push(n);
    if (s.flushScheduled) return;
    s.flushScheduled = true;
    setImmediate(() => {
      s.flushScheduled = false;
      const batch = s.notifications.splice(0);
      let i = 0;
      while (i < batch.length && !s.closed) {
        const online = batch[i]!.online;
        const ids: PeerId[] = [];
        const seen = new Set<string>();
        for (; i < batch.length && batch[i]!.online === online; i++) {
          const id = batch[i]!.id;
          if (!seen.has(id.key)) ids.push(id);
          seen.add(id.key);
        }
        for (const frame of encodePeerIdList(online ? 'peers-online' : 'peers-offline', ids))
          this.#sendControl(s, frame);
      }
    });
  }

  /** Control messages are never dropped; a peer that cannot take even those is disconnected. */
  #sendControl(s: Session, frame: Buffer): void {
    if (s.closed) return;
    if (s.ws.bufferedAmount > (this.#opts.maxControlBufferedBytes ?? DEFAULTS.maxControlBufferedBytes)) {
      this.#endSession(s, 'slow-consumer');
      return;
    }
    s.ws.send(frame, { binary: true });
  }

  /**
   * Ends a session: timers, interest, routing. Watchers hear "offline" only when this session was
   * the routed one for its id (a replaced session goes quietly: its successor is announced instead).
   */
  #endSession(s: Session, cause: DisconnectCause, { notify = true }: { notify?: boolean } = {}): void {
    if (s.closed) return;
    s.closed = true;
    for (const t of s.timers) t.cancel();
    for (const key of s.offlineInterest) this.#unwatch(s, key);
    s.notifications.length = 0;
    this.#sessions.delete(s);
    const routed = this.#peers.get(s.id.key) === s;
    if (routed) this.#peers.delete(s.id.key);
    if (routed && notify) {
      for (const w of this.#watchers.get(s.id.key) ?? []) {
        if (w.offlineInterest.has(s.id.key)) this.#notify(w, { online: false, id: s.id });
      }
    }
    this.#metrics.disconnect(cause);
    s.log.info('relay-peer-disconnected', { cause });
    if (cause !== 'shutdown') s.ws.terminate();
    if (this.#state !== 'stopped') this.emit('peer-disconnected', { peerId: s.id, cause });
  }

  #makeFaults(): RelayFaults {
    return {
      stallPair: (a, b) => {
        this.#stalled.add(pairKey(toPeerId(a).key, toPeerId(b).key));
      },
      unstallPair: (a, b) => {
        this.#stalled.delete(pairKey(toPeerId(a).key, toPeerId(b).key));
      },
      dropSession: (peer, { keepSocket = false } = {}) => {
        const id = toPeerId(peer);
        const s = this.#peers.get(id.key);
        if (!s) return false;
        this.#log.warn('relay-fault-drop-session', { peer: id.toString(), keepSocket });
        if (keepSocket) {
          // Routing forgets it; its socket and health checks live on, so its client suspects nothing.
          this.#peers.delete(id.key);
          s.blackholed = true;
          for (const key of s.offlineInterest) this.#unwatch(s, key);
          s.offlineInterest.clear();
          s.onlineInterest.clear();
        } else {
          this.#endSession(s, 'fault-dropped', { notify: false });
        }
        return true;
      },
      reset: () => {
        this.#stalled.clear();
      },
    };
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}${b}` : `${b}${a}`;
}

/** NetBird's rule: no scheme → rels:// with TLS, rel:// without; only rel and rels are allowed. */
export function instanceUrlOf(exposedAddress: string, tls: boolean): string {
  const parts = exposedAddress.split('://');
  if (parts.length > 2 || exposedAddress.length === 0) {
    throw new InvalidArgumentError(`invalid exposed address ${JSON.stringify(exposedAddress)}`);
  }
  // Go's url.Parse lowercases the scheme; clients compare instance URLs as exact strings.
  const withScheme =
    parts.length === 1 ? `${tls ? 'rels' : 'rel'}://${exposedAddress}` : `${parts[0]!.toLowerCase()}://${parts[1]}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new InvalidArgumentError(`invalid exposed address ${JSON.stringify(exposedAddress)}`);
  }
  if (url.protocol !== 'rel:' && url.protocol !== 'rels:') {
    throw new InvalidArgumentError(`exposed address scheme must be rel or rels, got ${url.protocol}`);
  }
  if (url.host === '') throw new InvalidArgumentError(`exposed address without a host: ${exposedAddress}`);
  return withScheme;
}
