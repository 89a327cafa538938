import { createServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type Clock,
  ClosedError,
  InvalidArgumentError,
  type Logger,
  type PeerKey,
  silentLogger,
  systemClock,
  type Timer,
  TypedEmitter,
} from '@mesh/core';
import {
  CloseCodes,
  createChallenge,
  decodeClientFrame,
  encodeChallenge,
  encodeMessage,
  encodeRegistered,
  FrameError,
  type ServerChallenge,
  SignalError,
  SignalErrorCodes,
  TokenBucket,
  verifyChallenge,
} from '@mesh/signal-client';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';

/** Options of a SignalServer. */
export interface SignalServerOptions {
  /** Listen address (default 127.0.0.1; port 0 = ephemeral). */
  host?: string;
  /** Listen port (default 0 = ephemeral). */
  port?: number;
  /** Logger; silent by default. */
  logger?: Logger;
  /** Clock for every timer; `systemClock` by default. */
  clock?: Clock;
  /** Largest WebSocket message accepted (64 KiB); a larger one closes that connection. */
  maxMessageBytes?: number;
  /** A connection must prove its key within this (5 s), or it is dropped. */
  registerTimeoutMs?: number;
  /** Per-connection forwarding budget; excess messages are dropped and counted (100/s, burst 500). */
  rateLimit?: { messagesPerSecond: number; burst: number };
  /** A message is dropped while its recipient's socket has this much unsent (1 MiB). */
  maxBufferedBytes?: number;
  /** Ping every registered peer this often; one missing pong per interval closes it (30 s). */
  heartbeatMs?: number;
  /** Connections still registering beyond this are refused at once (1,024). */
  maxPendingConnections?: number;
}

/** Why a connection was closed before it registered. */
export type RejectCause = 'auth-failed' | 'register-timeout' | 'protocol-error' | 'oversize' | 'too-many-pending';
/** Why a registered peer's connection ended. */
export type UnregisterCause = 'closed' | 'replaced' | 'protocol-error' | 'oversize' | 'heartbeat-timeout' | 'shutdown';
/** Why a message was not forwarded. */
export type DropReason = 'rate-limited' | 'undeliverable' | 'backpressure';

/** Events of a SignalServer. */
export interface SignalServerEvents {
  /** A peer proved its key; `replaced` when it took over an older connection of the same key. */
  registered: (info: { peer: PeerKey; replaced: boolean }) => void;
  /** A registered peer's connection ended. */
  unregistered: (info: { peer: PeerKey; cause: UnregisterCause }) => void;
  /** A connection closed before it registered. */
  rejected: (info: { cause: RejectCause; detail: string }) => void;
  /** A message about to be written to `to`'s socket: `frame` is exactly what goes on the wire. */
  forward: (info: { from: PeerKey; to: PeerKey; frame: string }) => void;
  /** A message was not forwarded. */
  dropped: (info: { from: PeerKey; to: PeerKey; reason: DropReason }) => void;
}

/** Counters and gauges of a SignalServer. */
export interface SignalServerStats {
  /** Open connections (registered or not). */
  connections: number;
  /** Connections still registering. */
  pending: number;
  /** Peers registered now. */
  registered: number;
  /** Successful registrations so far. */
  registrations: number;
  /** Messages forwarded so far. */
  forwarded: number;
  /** Connections rejected before registering, by cause. */
  rejected: Record<RejectCause, number>;
  /** Registered connections ended, by cause. */
  unregistered: Record<UnregisterCause, number>;
  /** Messages not forwarded, by reason. */
  dropped: Record<DropReason, number>;
}

interface Connection {
  readonly ws: WebSocket;
  readonly remote: string;
  readonly challenge: ServerChallenge;
  readonly bucket: TokenBucket;
  peer?: PeerKey;
  alive: boolean;
  /** Set once we decided why this connection ends, so the close handler reports that cause. */
  ending?: RejectCause | UnregisterCause;
  registerTimer?: Timer;
}

const DEFAULTS = {
  host: '127.0.0.1',
  maxMessageBytes: 64 * 1024,
  registerTimeoutMs: 5_000,
  rateLimit: { messagesPerSecond: 100, burst: 500 },
  maxBufferedBytes: 1 << 20,
  heartbeatMs: 30_000,
  maxPendingConnections: 1_024,
  closeTimeoutMs: 1_000,
};

/**
 * Forwards sealed messages between registered peers. It learns who talks to whom and when, never
 * what: boxes are end-to-end sealed and forwarded byte for byte. Every limit (size, rate, unsent
 * bytes, pending registrations) drops or closes that one connection and is counted; nothing a client
 * sends can stop the server.
 */
export class SignalServer extends TypedEmitter<SignalServerEvents> {
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #opts: Required<Omit<SignalServerOptions, 'logger' | 'clock'>>;
  readonly #conns = new Set<Connection>();
  readonly #peers = new Map<string, Connection>();
  #pending = 0;
  #http: HttpServer | undefined;
  #wss: WebSocketServer | undefined;
  #heartbeat: Timer | undefined;
  #state: 'idle' | 'running' | 'stopped' = 'idle';
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  readonly #stats: SignalServerStats = {
    connections: 0,
    pending: 0,
    registered: 0,
    registrations: 0,
    forwarded: 0,
    rejected: { 'auth-failed': 0, 'register-timeout': 0, 'protocol-error': 0, oversize: 0, 'too-many-pending': 0 },
    unregistered: { closed: 0, replaced: 0, 'protocol-error': 0, oversize: 0, 'heartbeat-timeout': 0, shutdown: 0 },
    dropped: { 'rate-limited': 0, undeliverable: 0, backpressure: 0 },
  };

  constructor(options: SignalServerOptions = {}) {
    super();
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? silentLogger;
    this.#opts = {
      host: options.host ?? DEFAULTS.host,
      port: options.port ?? 0,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULTS.maxMessageBytes,
      registerTimeoutMs: options.registerTimeoutMs ?? DEFAULTS.registerTimeoutMs,
      rateLimit: options.rateLimit ?? DEFAULTS.rateLimit,
      maxBufferedBytes: options.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes,
      heartbeatMs: options.heartbeatMs ?? DEFAULTS.heartbeatMs,
      maxPendingConnections: options.maxPendingConnections ?? DEFAULTS.maxPendingConnections,
    };
    const o = this.#opts;
    const positive = {
      maxMessageBytes: o.maxMessageBytes,
      registerTimeoutMs: o.registerTimeoutMs,
      heartbeatMs: o.heartbeatMs,
    };
    for (const [name, v] of Object.entries(positive)) {
      if (!(Number.isFinite(v) && v > 0)) throw new InvalidArgumentError(`${name} must be a positive number, got ${v}`);
    }
    if (!(o.rateLimit.messagesPerSecond > 0 && o.rateLimit.burst >= 1)) {
      throw new InvalidArgumentError('rateLimit needs messagesPerSecond > 0 and burst >= 1');
    }
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
      throw new InvalidArgumentError(`port must be 0..65535, got ${o.port}`);
    }
  }

  /** Binds the listener. Idempotent; rejects with ERR_SIGNAL_LISTEN (or ERR_CLOSED after stop). */
  start(): Promise<void> {
    if (this.#state === 'stopped') return Promise.reject(new ClosedError('the signaling server is stopped'));
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const http = createServer((_req, res) => res.writeHead(426, { connection: 'close' }).end());
    http.headersTimeout = 5_000;
    http.requestTimeout = 5_000;
    http.on('clientError', (_err, socket) => socket.destroy());
    http.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket, head));
    this.#http = http;
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: this.#opts.maxMessageBytes,
      clientTracking: false,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(this.#opts.port, this.#opts.host, () => {
          http.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.#state = 'stopped';
      throw new SignalError(SignalErrorCodes.LISTEN, `signaling server could not listen: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (this.#state === 'stopped') return; // stop() raced the bind; #shutdown closes the listener
    this.#state = 'running';
    this.#heartbeat = this.#clock.setInterval(() => this.#beat(), this.#opts.heartbeatMs);
    this.#log.info('signal-listening', { ...this.address });
  }

  /** The bound address; throws ERR_CLOSED when not listening. */
  get address(): { host: string; port: number } {
    const a = this.#http?.address() as AddressInfo | null | undefined;
    if (!a) throw new ClosedError('the signaling server is not listening');
    return { host: a.address, port: a.port };
  }

  /** `ws://` URL of the bound address. */
  get url(): string {
    const { host, port } = this.address;
    return `ws://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** Registered peers right now. */
  peers(): PeerKey[] {
    return [...this.#peers.values()].map((c) => c.peer!);
  }

  /** A snapshot of the counters and gauges. */
  stats(): SignalServerStats {
    const s = this.#stats;
    return {
      ...s,
      connections: this.#conns.size,
      pending: this.#pending,
      registered: this.#peers.size,
      rejected: { ...s.rejected },
      unregistered: { ...s.unregistered },
      dropped: { ...s.dropped },
    };
  }

  /** Closes every connection (close code 1001) and the listener. Idempotent; silent afterwards. */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    const wasRunning = this.#state === 'running';
    this.#state = 'stopped';
    await this.#starting?.catch(() => {});
    this.#heartbeat?.cancel();
    const http = this.#http;
    const closed = http?.listening ? new Promise<void>((r) => http.close(() => r())) : Promise.resolve();
    const conns = [...this.#conns];
    await Promise.all(conns.map((c) => this.#closeConn(c, 'shutdown', CloseCodes.SHUTDOWN, 'server shutting down')));
    http?.closeAllConnections();
    await closed;
    this.#wss?.close();
    if (wasRunning) this.#log.info('signal-stopped', { connectionsClosed: conns.length });
    this.removeAllListeners();
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (this.#state !== 'running' || !this.#wss) {
      socket.destroy();
      return;
    }
    if (this.#pending >= this.#opts.maxPendingConnections) {
      this.#countReject('too-many-pending', `${this.#pending} pending`);
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req));
  }

  #accept(ws: WebSocket, req: IncomingMessage): void {
    if (this.#state !== 'running') {
      ws.terminate();
      return;
    }
    const { messagesPerSecond, burst } = this.#opts.rateLimit;
    const conn: Connection = {
      ws,
      remote: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      challenge: createChallenge(),
      bucket: new TokenBucket(messagesPerSecond, burst, () => this.#clock.monotonic()),
      alive: true,
    };
    this.#conns.add(conn);
    this.#pending++;
    this.#stats.connections++;
    conn.registerTimer = this.#clock.setTimeout(
      () => this.#closeConn(conn, 'register-timeout', CloseCodes.REGISTER_TIMEOUT, 'register timeout'),
      this.#opts.registerTimeoutMs,
    );
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // ws closes the socket itself after a protocol error; we only record why.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') conn.ending ??= 'oversize';
      else conn.ending ??= 'protocol-error';
      this.#log.debug('signal-ws-error', { remote: conn.remote, error: err });
    });
    ws.on('close', () => this.#onClose(conn));
    ws.on('message', (data: RawData, isBinary: boolean) => this.#onMessage(conn, data as Buffer, isBinary));
    ws.send(encodeChallenge(conn.challenge.ephemeralPublic, conn.challenge.nonce));
  }

  #onMessage(conn: Connection, data: Buffer, isBinary: boolean): void {
    if (conn.ending) return;
    let frame: ReturnType<typeof decodeClientFrame>;
    try {
      if (isBinary) throw new FrameError('binary frame');
      frame = decodeClientFrame(data.toString('utf8'));
    } catch (err) {
      const detail = err instanceof FrameError ? err.message : 'decode';
      this.#log.debug('signal-protocol-error', { remote: conn.remote, peer: conn.peer?.toShortString(), detail });
      this.#closeConn(conn, 'protocol-error', CloseCodes.PROTOCOL_ERROR, detail);
      return;
    }
    if (!conn.peer) {
      if (frame.type !== 'register') {
        this.#closeConn(conn, 'protocol-error', CloseCodes.PROTOCOL_ERROR, `${frame.type} before register`);
      } else if (!verifyChallenge(conn.challenge, frame.publicKey, frame.mac)) {
        this.#log.info('signal-auth-failed', { remote: conn.remote, claimed: frame.publicKey.toShortString() });
        this.#closeConn(conn, 'auth-failed', CloseCodes.AUTH_FAILED, 'auth failed');
      } else {
        this.#register(conn, frame.publicKey);
      }
      return;
    }
    if (frame.type !== 'send') {
      this.#closeConn(conn, 'protocol-error', CloseCodes.PROTOCOL_ERROR, 'register twice');
      return;
    }
    this.#forward(conn, conn.peer, frame.to, frame.box);
  }

  #register(conn: Connection, peer: PeerKey): void {
    conn.registerTimer?.cancel();
    conn.peer = peer;
    this.#pending--;
    // Last writer wins: after a roam the old socket is usually half-open and would never close itself.
    const old = this.#peers.get(peer.base64);
    this.#peers.set(peer.base64, conn);
    if (old) void this.#closeConn(old, 'replaced', CloseCodes.REPLACED, 'replaced by a newer registration');
    this.#stats.registrations++;
    conn.ws.send(encodeRegistered(peer));
    this.#log.info('signal-registered', { peer: peer.toShortString(), remote: conn.remote, replaced: !!old });
    this.emit('registered', { peer, replaced: !!old });
  }

  #forward(conn: Connection, from: PeerKey, to: PeerKey, box: string): void {
    const target = this.#peers.get(to.base64);
    const reason: DropReason | undefined = !conn.bucket.take()
      ? 'rate-limited'
      : !target || target.ending
        ? 'undeliverable'
        : target.ws.bufferedAmount > this.#opts.maxBufferedBytes
          ? 'backpressure'
          : undefined;
    if (reason || !target) {
      const why = reason ?? 'undeliverable';
      this.#stats.dropped[why]++;
      this.#log.debug('signal-dropped', { from: from.toShortString(), to: to.toShortString(), reason: why });
      this.emit('dropped', { from, to, reason: why });
      return;
    }
    const frame = encodeMessage(from, box);
    this.emit('forward', { from, to, frame });
    this.#stats.forwarded++;
    target.ws.send(frame);
  }

  /** Sends a close frame; terminates if the peer does not complete the close in time. */
  #closeConn(conn: Connection, cause: RejectCause | UnregisterCause, code: number, reason: string): Promise<void> {
    conn.ending ??= cause;
    const ws = conn.ws;
    if (ws.readyState === ws.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = this.#clock.setTimeout(() => ws.terminate(), DEFAULTS.closeTimeoutMs);
      ws.once('close', () => {
        timer.cancel();
        resolve();
      });
      ws.close(code, reason);
    });
  }

  #onClose(conn: Connection): void {
    if (!this.#conns.delete(conn)) return;
    conn.registerTimer?.cancel();
    const cause = conn.ending ?? 'closed';
    const peer = conn.peer;
    if (!peer) {
      this.#pending--;
      if (cause !== 'closed' && cause !== 'shutdown') this.#countReject(cause as RejectCause, conn.remote);
      return;
    }
    if (this.#peers.get(peer.base64) === conn) this.#peers.delete(peer.base64);
    // A registered connection only ever ends for an UnregisterCause (auth and register timeout are past).
    const unregisterCause = cause as UnregisterCause;
    this.#stats.unregistered[unregisterCause]++;
    this.#log.info('signal-unregistered', { peer: peer.toShortString(), cause: unregisterCause });
    if (this.#state === 'running') this.emit('unregistered', { peer, cause: unregisterCause });
  }

  #countReject(cause: RejectCause, detail: string): void {
    this.#stats.rejected[cause]++;
    this.#log.debug('signal-rejected', { cause, detail });
    if (this.#state === 'running') this.emit('rejected', { cause, detail });
  }

  /** One missed pong per interval and the peer is gone (a half-open socket would otherwise linger). */
  #beat(): void {
    for (const conn of this.#conns) {
      if (!conn.peer || conn.ending) continue;
      if (!conn.alive) {
        conn.ending = 'heartbeat-timeout';
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }
}
