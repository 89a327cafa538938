import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Clock,
  InvalidArgumentError,
  type Logger,
  MeshError,
  silentLogger,
  systemClock,
  TypedEmitter,
} from '@mesh/core';
import {
  decodeClientMessage,
  encodeAuthResponse,
  encodeClose,
  encodeHealthCheck,
  MsgType,
  type PeerId,
  type PeerRef,
  PROTOCOL_VERSION,
  RELAY_WS_PATH,
  RelayProtocolError,
  relayTokenKey,
  type TokenVerdict,
  TRANSPORT_HEADER_SIZE,
  toPeerId,
  verifyRelayToken,
} from '@mesh/relay-client';
import type { WebSocket } from 'ws';
import { RelayAcceptor, type SessionHandlers } from './accept.js';
import {
  AUTH_TIMEOUT_MS,
  DEFAULT_HOST,
  HEALTHCHECK_INTERVAL_MS,
  HEALTHCHECK_TIMEOUT_MS,
  MAX_BUFFERED_BYTES,
  MAX_CONTROL_BUFFERED_BYTES,
  SHUTDOWN_TIMEOUT_MS,
} from './constants.js';
import { makeFaults, type RelayFaults } from './faults.js';
import { Forwarder } from './forwarding.js';
import { type DisconnectCause, MetricsRegistry, type RelayServerMetrics, serveMetrics } from './metrics.js';
import { PeerNotifier } from './notifications.js';
import { PeerRegistry } from './registry.js';
import { Session } from './session.js';

/** Options of a RelayServer. */
export interface RelayServerOptions {
  /** Address to listen on (default 127.0.0.1, port 0 = ephemeral). */
  host?: string;
  /** Port to listen on (default 0 = ephemeral). */
  port?: number;
  /** What clients are told to use: `rel://host:port` / `rels://host:port`, or `host:port` (scheme from TLS). */
  exposedAddress: string;
  /** Shared relay secret: tokens are HMAC-SHA256 v2 keyed with SHA-256(secret). */
  secret?: string;
  /** Custom token check, instead of `secret`. */
  verifyToken?: (token: Buffer, peerId: PeerId) => TokenVerdict;
  /** PEM cert and key: serve wss (and the instance URL scheme becomes rels). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Clock for every timer; `systemClock` by default. */
  clock?: Clock;
  /** Logger; silent by default. */
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

/** Events of a RelayServer. */
export interface RelayServerEvents {
  /** A peer authenticated; `replaced` when it took over an older session of the same peer id. */
  'peer-connected': (info: { peerId: PeerId; replaced: boolean }) => void;
  /** An authenticated peer's connection ended. */
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

/**
 * A relay server speaking NetBird relay protocol v1 over WebSocket (`/relay`, binary messages).
 * Beyond NetBird: a re-authenticating peer's subscribers are told offline then online (F-R-6), and
 * forwarding never waits on a receiver — each destination's unsent bytes are bounded and excess
 * transport is dropped and counted (F-R-16).
 */
export class RelayServer extends TypedEmitter<RelayServerEvents> {
  /** What clients are told to use (the auth reply), derived from `exposedAddress`. */
  readonly instanceUrl: string;
  readonly #opts: RelayServerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #verify: (token: Buffer, peerId: PeerId) => TokenVerdict;
  readonly #metrics = new MetricsRegistry();
  readonly #registry = new PeerRegistry();
  readonly #notifier = new PeerNotifier((s, frame) => this.#sendControl(s, frame));
  readonly #forwarder: Forwarder;
  #acceptor: RelayAcceptor | undefined;
  #metricsHttp: HttpServer | undefined;
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
    this.#forwarder = new Forwarder(this.#registry, this.#metrics, options.maxBufferedBytes ?? MAX_BUFFERED_BYTES);
    if (options.faultInjection) {
      this.#faults = makeFaults({
        forwarder: this.#forwarder,
        registry: this.#registry,
        notifier: this.#notifier,
        log: this.#log,
        drop: (s) => this.#endSession(s, 'fault-dropped', { notify: false }),
      });
    }
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
    const acceptor = new RelayAcceptor({
      tls: this.#opts.tls,
      clock: this.#clock,
      log: this.#log,
      authTimeoutMs: this.#opts.authTimeoutMs ?? AUTH_TIMEOUT_MS,
      verify: this.#verify,
      metrics: this.#metrics,
      accepting: () => this.#state === 'running',
      rejected: (cause, reason) => this.emit('connection-rejected', { cause, reason }),
      authenticated: (id, ws, remote) => this.#register(id, ws, remote),
    });
    this.#acceptor = acceptor;
    try {
      await acceptor.listen(this.#opts.port ?? 0, this.#opts.host ?? DEFAULT_HOST);
      const m = this.#opts.metrics;
      if (m) this.#metricsHttp = await serveMetrics(() => this.metricsText(), m.port, m.host ?? DEFAULT_HOST);
    } catch (err) {
      this.#state = 'stopped';
      void acceptor.close();
      throw new RelayListenError(`relay server could not listen: ${String((err as Error).message)}`, { cause: err });
    }
    this.#state = 'running';
    const addr = this.address();
    this.#log.info('relay-listening', { ...addr, instanceUrl: this.instanceUrl, tls: this.#opts.tls !== undefined });
    return addr;
  }

  /** The bound address of the relay listener; throws ERR_CLOSED when not listening. */
  address(): { host: string; port: number } {
    const a = this.#acceptor?.address();
    if (!a) throw new MeshError('ERR_CLOSED', 'the relay server is not listening');
    return { host: a.address, port: a.port };
  }

  /** `ws://` / `wss://` URL of the relay endpoint on the bound address (handy for tests and local clients). */
  get url(): string {
    const { host, port } = this.address();
    const h = host.includes(':') ? `[${host}]` : host;
    return `${this.#opts.tls ? 'wss' : 'ws'}://${h}:${port}${RELAY_WS_PATH}`;
  }

  /** The bound address of the metrics listener, if one is configured and listening. */
  metricsAddress(): { host: string; port: number } | undefined {
    const a = this.#metricsHttp?.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : undefined;
  }

  /** A snapshot of the counters and gauges. */
  metrics(): RelayServerMetrics {
    return this.#metrics.snapshot(this.#gauges());
  }

  /** The metrics in the Prometheus text format (what `GET /metrics` serves). */
  metricsText(): string {
    return this.#metrics.text(this.#gauges());
  }

  /** Authenticated peers currently routed. */
  peers(): PeerId[] {
    return this.#registry.ids();
  }

  /** True when `peer` is authenticated and routed. */
  hasPeer(peer: PeerRef): boolean {
    return this.#registry.get(toPeerId(peer).key) !== undefined;
  }

  /** The fault-injection switches; throws FaultInjectionDisabledError without `faultInjection: true`. */
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
    return { connectedPeers: this.#registry.size, pendingConnections: this.#acceptor?.pendingCount ?? 0 };
  }

  async #shutdown(): Promise<void> {
    // A start in flight finishes first, so its listeners are closed below rather than leaked.
    await this.#starting?.catch(() => {});
    const wasRunning = this.#state === 'running';
    this.#state = 'stopping';
    const sessions = this.#registry.sessions();
    const drain = async () => {
      await Promise.all(sessions.map((s) => this.#closeGracefully(s)));
    };
    await (this.#acceptor ? this.#acceptor.close(drain) : drain());
    const mh = this.#metricsHttp;
    if (mh) {
      mh.closeAllConnections();
      await new Promise<void>((r) => mh.close(() => r()));
    }
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
    const timer = this.#clock.setTimeout(() => ws.terminate(), this.#opts.shutdownTimeoutMs ?? SHUTDOWN_TIMEOUT_MS);
    this.#endSession(s, 'shutdown', { notify: false });
    ws.send(encodeClose(), { binary: true }, () => ws.close(1000));
    return done.finally(() => timer.cancel());
  }

  #register(id: PeerId, ws: WebSocket, remote: string): SessionHandlers {
    const s = new Session(id, ws, this.#log.child({ peer: id.toString() }));
    this.#registry.add(s);
    // The reply goes out before the peer is routable, so nothing forwarded can overtake it.
    ws.send(encodeAuthResponse(this.instanceUrl), { binary: true });
    const old = this.#registry.get(id.key);
    if (old) this.#endSession(old, 'replaced', { notify: false });
    this.#registry.route(s);
    const { intervalMs = HEALTHCHECK_INTERVAL_MS, timeoutMs = HEALTHCHECK_TIMEOUT_MS } = this.#opts.healthCheck ?? {};
    s.startHealthCheck(this.#clock, intervalMs, timeoutMs, {
      ping: () => this.#sendControl(s, encodeHealthCheck()),
      dead: () => {
        s.log.info('relay-healthcheck-timeout');
        this.#endSession(s, 'healthcheck-timeout');
      },
    });
    s.log.info('relay-peer-connected', { remote, replaced: old !== undefined });
    this.#notifier.online(id, old !== undefined);
    this.emit('peer-connected', { peerId: id, replaced: old !== undefined });
    return {
      message: (frame, isBinary) => this.#onSessionMessage(s, frame, isBinary),
      closed: () => this.#endSession(s, 'socket-closed'),
    };
  }

  #onSessionMessage(s: Session, frame: Buffer, isBinary: boolean): void {
    if (s.closed) return;
    if (!isBinary) {
      this.#endSession(s, 'not-binary');
      return;
    }
    if (frame.length >= TRANSPORT_HEADER_SIZE && frame[0] === PROTOCOL_VERSION && frame[1] === MsgType.Transport) {
      this.#forwarder.forward(s, frame);
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
        this.#notifier.subscribe(s, msg.peerIds, (key) => {
          const peer = this.#registry.get(key);
          return peer !== undefined && !peer.blackholed;
        });
        return;
      case 'unsubscribe':
        this.#notifier.unsubscribe(s, msg.peerIds);
        return;
      default:
        // A second auth (or a transport that slipped the fast path: impossible) is a protocol error.
        this.#endSession(s, 'protocol-error');
    }
  }

  /** Control messages are never dropped; a peer that cannot take even those is disconnected. */
  #sendControl(s: Session, frame: Buffer): void {
    if (s.closed) return;
    if (s.ws.bufferedAmount > (this.#opts.maxControlBufferedBytes ?? MAX_CONTROL_BUFFERED_BYTES)) {
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
    s.stopTimers();
    this.#notifier.unwatchAll(s);
    s.notifications.length = 0;
    const routed = this.#registry.remove(s);
    if (routed && notify) this.#notifier.offline(s.id);
    this.#metrics.disconnect(cause);
    s.log.info('relay-peer-disconnected', { cause });
    if (cause !== 'shutdown') s.ws.terminate();
    if (this.#state !== 'stopped') this.emit('peer-disconnected', { peerId: s.id, cause });
  }
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
