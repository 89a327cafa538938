import { createSocket, type Socket } from 'node:dgram';
import { isIP, isIPv6 } from 'node:net';
import {
  type Clock,
  ClosedError,
  type DatagramPath,
  InvalidArgumentError,
  type Logger,
  silentLogger,
  systemClock,
  TypedEmitter,
} from '@mesh/core';
import {
  MAX_UDP_PAYLOAD,
  MESSAGE_RESPONSE_TYPE,
  MESSAGE_TRANSPORT_TYPE,
  PROBE_INTERVAL_MS,
  TRAFFIC_TRUST_WINDOW_MS,
  TRUST_WINDOW_MS,
} from './constants.js';
import { validatePort } from './device.js';
import { HandshakeGate } from './handshake-gate.js';
import { type PathEntry, PathTable } from './path-table.js';
import { isProbe, isWireGuardMessage } from './probe.js';

/** Options of a PeerEndpoint. */
export interface PeerEndpointOptions {
  /** WireGuard's listen port on `host`. The socket is connected to it: only WireGuard's datagrams are forwarded out. */
  wireguardPort: number;
  /** Loopback address WireGuard and the endpoint share. Default 127.0.0.1. */
  host?: string;
  /** Clock for probes and verdicts; `systemClock` by default. */
  clock?: Clock;
  /** Logger; silent by default. */
  logger?: Logger;
  /** One probe per attached path every this many ms. Default 1000 (PROBE_INTERVAL_MS); 0 = never probe (still answer). */
  probeIntervalMs?: number;
  /** A path whose remote answers probes is `silent` after this long without a datagram. Default 3000. */
  trustWindowMs?: number;
  /**
   * A path whose remote never sent a probe is judged by WireGuard traffic alone: `silent` after this
   * long without a datagram. Set it above WireGuard's persistent keepalive. Default 30000 (25 s keepalive).
   */
  trafficTrustWindowMs?: number;
  /** SO_RCVBUF / SO_SNDBUF of the socket WireGuard talks to. Default: the OS default. */
  socketBufferBytes?: number;
}

/** What the endpoint knows about one attached path. */
export interface PathStatus {
  /** The path. */
  path: DatagramPath;
  /** null until the first verdict. */
  alive: boolean | null;
  /** Latest probe round-trip time, null until a pong came back. */
  rttMs: number | null;
  /** Smoothed probe round-trip time (EWMA with weight 1/8, TCP's SRTT), null until a pong came back. */
  srttMs: number | null;
  /**
   * Percentage of the last `probesInWindow` judged probes that were lost (no pong within 2 s,
   * PROBE_LOSS_TIMEOUT_MS); null until 5 (QUALITY_MIN_SAMPLES) are judged. Starts afresh when the
   * path is attached again.
   */
  lossPct: number | null;
  /** Judged probes the loss estimate covers: at most 10 (QUALITY_WINDOW). */
  probesInWindow: number;
  /** True once the remote has sent a probe or answered one on this path. */
  probeCapable: boolean;
  /** Wall ms of the last datagram of any kind received on the path; 0 = none. */
  lastRxAt: number;
  /** The active path has carried WireGuard traffic both ways since it became active (see `path-carrying`). */
  carrying: boolean;
}

/** Datagrams the endpoint dropped, by cause (cumulative). */
export interface PeerEndpointDrops {
  /** From WireGuard while no path is active. */
  noActivePath: number;
  /** The active path's send() returned false (closed, oversize, queue full). */
  pathSendFailed: number;
  /** Arrived on a path, neither a probe nor a WireGuard message. */
  notWireguard: number;
  /** Arrived on a path, looked like a probe but did not parse. */
  malformedProbe: number;
  /** Arrived on a path, larger than one UDP datagram can carry to WireGuard. */
  oversize: number;
  /** The local socket failed to hand a datagram to WireGuard. */
  wireguardSendError: number;
  /** Arrived on a path before start(). */
  notStarted: number;
  /** A held crossed remote initiation, dropped: WireGuard's own was answered, or a newer one replaced it. */
  crossedInitiation: number;
  /**
   * WireGuard's own initiation, made just before it answered a remote one (which makes it forget
   * its own): sent, the remote would answer it and forget the handshake WireGuard just answered.
   */
  forgottenInitiation: number;
}

/** Traffic and probe counters of a PeerEndpoint (cumulative since construction). */
export interface PeerEndpointStats {
  /** Datagrams (and bytes) WireGuard sent towards the active path. */
  fromWireguard: { packets: number; bytes: number };
  /** Datagrams (and bytes) handed from a path to WireGuard. */
  toWireguard: { packets: number; bytes: number };
  /** Pings sent on all paths. */
  probesSent: number;
  /** Handshake messages (initiation or response) held while no path was active and sent when one became active. */
  heldHandshakesSent: number;
  /**
   * WireGuard's latest unanswered handshake message, sent again on a newly active path because it
   * went out on a silent path or just before the switch (see the README).
   */
  handshakesResent: number;
  /**
   * Remote initiations that crossed one of WireGuard's own (both sides initiated at once) and were
   * held back so that only one of the two handshakes runs.
   */
  crossedInitiationsHeld: number;
  /** Pongs sent in answer to the remote's pings. */
  pongsSent: number;
  /** Pongs received for our own pings. */
  pongsReceived: number;
  /** Datagrams dropped, by cause. */
  drops: PeerEndpointDrops;
}

/** Events of a PeerEndpoint. */
export interface PeerEndpointEvents {
  /** A path became alive: a pong came back (`probe`) or, on a path without probes, traffic arrived (`traffic`). */
  'path-alive': (info: { path: DatagramPath; rttMs: number | null; via: 'probe' | 'traffic' }) => void;
  /** A path went without a datagram for longer than its trust window. */
  'path-silent': (info: { path: DatagramPath; silentForMs: number }) => void;
  /** The active path changed: set by the owner, or cleared because it was detached or closed. */
  'active-changed': (info: {
    from: DatagramPath | null;
    to: DatagramPath | null;
    reason: 'set' | 'detached' | 'closed';
  }) => void;
  /** An attached path closed by itself; it has been detached. */
  'path-closed': (info: { path: DatagramPath; reason: string }) => void;
  /**
   * A probe on a path was judged, once per probe: `answered` (its pong came back within
   * PROBE_LOSS_TIMEOUT_MS, `rttMs` its round trip) or lost (`rttMs` null). `lossPct` and `srttMs`
   * are the path's estimates with it counted (as in pathStatus). An answered probe proves that
   * the remote PeerEndpoint at the far end of the path receives our datagrams and answers: the
   * pong echoes this endpoint's random id. For quality policy and consent evidence without polling.
   */
  'path-probe': (info: {
    path: DatagramPath;
    answered: boolean;
    rttMs: number | null;
    lossPct: number | null;
    srttMs: number | null;
  }) => void;
  /**
   * The active path carries the tunnel: since it became active, WireGuard sent at least one
   * datagram on it and at least one WireGuard transport message (data or keepalive) or handshake
   * response came in from it — the remote's WireGuard has a session with ours and uses this path.
   * A remote initiation does not count: after a remote restart it arrives while our WireGuard
   * still sends on the dead old session. Once per activation, `afterMs` after it; probes never
   * count. Setting the path active again (after another or none) re-arms it.
   */
  'path-carrying': (info: { path: DatagramPath; afterMs: number }) => void;
  /**
   * The remote's WireGuard transport messages now arrive on another path than the last one did:
   * the far side moved its traffic (its own path choice). Once per move; a packet still in flight
   * on the old path moves it back, so a listener should act only on its own evidence as well.
   */
  'remote-path': (info: { path: DatagramPath; from: DatagramPath | null }) => void;
}

/**
 * The per-peer local endpoint WireGuard is configured with once (ARCHITECTURE §3): a UDP socket on
 * 127.0.0.1:<ephemeral>. WireGuard's packets go to the active path; packets from any attached path
 * go to WireGuard from this same socket, so switching paths never changes WireGuard's endpoint.
 * Probes on every attached path measure RTT and give `path-alive` / `path-silent` verdicts
 * (PathTable); HandshakeGate times the handshake messages passing through.
 */
export class PeerEndpoint extends TypedEmitter<PeerEndpointEvents> {
  /** Loopback address WireGuard and the endpoint share. */
  readonly host: string;
  /** WireGuard's listen port on `host`. */
  readonly wireguardPort: number;
  readonly #log: Logger;
  readonly #bufferBytes: number | undefined;
  readonly #paths: PathTable;
  readonly #handshakes: HandshakeGate;
  #socket: Socket | undefined;
  #address: { host: string; port: number } | null = null;
  #starting: Promise<{ host: string; port: number }> | undefined;
  #stopped = false;
  #active: DatagramPath | null = null;
  /** Since the active path became active: monotonic time, WireGuard sent / received on it, emitted. */
  #activeSinceMono = 0;
  #carriedOut = false;
  #carriedIn = false;
  #carrying = false;
  /** The path the remote's latest transport message came in on; null before the first. */
  #remotePath: DatagramPath | null = null;
  readonly #clock: Clock;
  readonly #stats: PeerEndpointStats = {
    fromWireguard: { packets: 0, bytes: 0 },
    toWireguard: { packets: 0, bytes: 0 },
    probesSent: 0,
    heldHandshakesSent: 0,
    handshakesResent: 0,
    crossedInitiationsHeld: 0,
    pongsSent: 0,
    pongsReceived: 0,
    drops: {
      noActivePath: 0,
      pathSendFailed: 0,
      notWireguard: 0,
      malformedProbe: 0,
      oversize: 0,
      wireguardSendError: 0,
      notStarted: 0,
      crossedInitiation: 0,
      forgottenInitiation: 0,
    },
  };

  constructor(options: PeerEndpointOptions) {
    super();
    this.wireguardPort = validatePort(options.wireguardPort, 'wireguardPort');
    if (this.wireguardPort === 0) throw new InvalidArgumentError('wireguardPort must not be 0');
    this.host = options.host ?? '127.0.0.1';
    if (isIP(this.host) === 0)
      throw new InvalidArgumentError(`PeerEndpoint host must be an IP address, got ${this.host}`);
    const clock: Clock = options.clock ?? systemClock;
    this.#clock = clock;
    this.#log = (options.logger ?? silentLogger).child({ component: 'peer-endpoint' });
    this.#bufferBytes = options.socketBufferBytes;
    this.#paths = new PathTable({
      clock,
      log: this.#log,
      stats: this.#stats,
      probeMs: nonNegative(options.probeIntervalMs ?? PROBE_INTERVAL_MS, 'probeIntervalMs'),
      trustMs: positive(options.trustWindowMs ?? TRUST_WINDOW_MS, 'trustWindowMs'),
      trafficTrustMs: positive(options.trafficTrustWindowMs ?? TRAFFIC_TRUST_WINDOW_MS, 'trafficTrustWindowMs'),
      onDatagram: (entry, d) => this.#fromPath(entry, d),
      onClosed: (entry, info) => {
        this.#forget(entry.path, 'closed');
        this.emit('path-closed', { path: entry.path, reason: info.reason });
      },
      onAlive: (info) => this.emit('path-alive', info),
      onSilent: (info) => this.emit('path-silent', info),
      onProbe: (info) => this.emit('path-probe', info),
    });
    this.#handshakes = new HandshakeGate({
      clock,
      log: this.#log,
      stats: this.#stats,
      toPath: (msg) => this.#toPath(msg),
      sendOn: (path, msg) => this.#sendOn(path, msg),
      isSilent: (path) => this.#paths.isSilent(path),
      toWireguard: (d) => this.#toWireguard(d),
    });
  }

  /** The address to configure as the peer's WireGuard endpoint; null before start(). */
  get address(): { host: string; port: number } | null {
    return this.#address;
  }

  /** The path WireGuard's packets go to, null when none. */
  get active(): DatagramPath | null {
    return this.#active;
  }

  /** The path the remote's latest WireGuard transport message came in on; null before the first (or after it was detached). */
  get remotePath(): DatagramPath | null {
    return this.#remotePath;
  }

  /** The attached paths. */
  get paths(): DatagramPath[] {
    return this.#paths.paths;
  }

  /** A copy of the traffic and probe counters. */
  get stats(): PeerEndpointStats {
    return structuredClone(this.#stats);
  }

  /** What the endpoint knows about an attached path; undefined when it is not attached. */
  pathStatus(path: DatagramPath): PathStatus | undefined {
    return this.#paths.status(path, this.#carrying && path === this.#active);
  }

  /** Binds the socket (idempotent) and starts probing. Single use: rejects with ERR_CLOSED after stop(). */
  start(): Promise<{ host: string; port: number }> {
    if (this.#stopped) return Promise.reject(new ClosedError('PeerEndpoint is stopped'));
    this.#starting ??= this.#bind();
    return this.#starting;
  }

  async #bind(): Promise<{ host: string; port: number }> {
    const socket = createSocket({
      type: isIPv6(this.host) ? 'udp6' : 'udp4',
      ...(this.#bufferBytes ? { recvBufferSize: this.#bufferBytes, sendBufferSize: this.#bufferBytes } : {}),
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, this.host, () => {
          // Connected to WireGuard's port: nothing else on the host can inject into the tunnel, and
          // sends skip the per-datagram address handling.
          socket.connect(this.wireguardPort, this.host, () => {
            socket.off('error', reject);
            resolve();
          });
        });
      });
    } catch (err) {
      socket.close();
      throw new InvalidArgumentError(`PeerEndpoint cannot bind ${this.host}: ${(err as NodeJS.ErrnoException).code}`, {
        cause: err,
      });
    }
    socket.on('message', (msg) => this.#fromWireguard(msg));
    // Send failures towards WireGuard (e.g. ECONNREFUSED while WireGuard is down) arrive here.
    socket.on('error', (err) => {
      this.#stats.drops.wireguardSendError++;
      this.#log.debug('socket-error', { error: err.message });
    });
    if (this.#stopped) {
      socket.close();
      throw new ClosedError('PeerEndpoint was stopped while starting');
    }
    this.#socket = socket;
    const { port } = socket.address();
    this.#address = { host: this.host, port };
    this.#paths.start();
    this.#log.debug('started', { port, wireguardPort: this.wireguardPort });
    return this.#address;
  }

  /** Starts listening on a path (idempotent). The endpoint never closes paths: their owner does. */
  attach(path: DatagramPath): void {
    if (this.#stopped) throw new ClosedError('PeerEndpoint is stopped');
    if (this.#paths.has(path)) return;
    if (path.closed) throw new InvalidArgumentError(`cannot attach a closed ${path.kind} path`);
    this.#paths.add(path);
  }

  /** Stops listening on a path (idempotent); clears the active path when it was this one. */
  detach(path: DatagramPath): void {
    if (!this.#paths.remove(path)) return;
    this.#forget(path, 'detached');
  }

  /** A path left the table: it is neither active nor the remote's any more. */
  #forget(path: DatagramPath, reason: 'detached' | 'closed'): void {
    if (this.#remotePath === path) this.#remotePath = null;
    if (this.#active === path) this.#setActive(null, reason);
  }

  /** Chooses the path WireGuard's packets go to; null drops them (counted). The path must be attached. */
  setActive(path: DatagramPath | null): void {
    if (this.#stopped) throw new ClosedError('PeerEndpoint is stopped');
    if (path !== null && !this.#paths.has(path)) throw new InvalidArgumentError('setActive: the path is not attached');
    if (path === this.#active) return;
    this.#setActive(path, 'set');
  }

  /** Closes the socket, cancels every timer and detaches every path (without closing them). Idempotent; silent afterwards. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#handshakes.stop();
    this.#paths.stop();
    this.#active = null;
    this.#socket?.close();
    this.#socket = undefined;
    this.#log.debug('stopped');
  }

  #setActive(path: DatagramPath | null, reason: 'set' | 'detached' | 'closed'): void {
    const from = this.#active;
    this.#active = path;
    this.#activeSinceMono = this.#clock.monotonic();
    this.#carriedOut = this.#carriedIn = this.#carrying = false;
    this.#handshakes.activeChanged(path);
    this.#log.info('active-changed', { from: from?.kind ?? null, to: path?.kind ?? null, reason });
    this.emit('active-changed', { from, to: path, reason });
  }

  #fromWireguard(msg: Buffer): void {
    this.#stats.fromWireguard.packets++;
    this.#stats.fromWireguard.bytes += msg.length;
    this.#handshakes.fromWireguard(msg);
    this.#checkCarrying();
  }

  #toPath(msg: Buffer): DatagramPath | null {
    const active = this.#active;
    if (active) return this.#sendOn(active, msg) ? active : null;
    this.#stats.drops.noActivePath++;
    return null;
  }

  #sendOn(path: DatagramPath, msg: Buffer): boolean {
    if (!path.send(msg)) {
      this.#stats.drops.pathSendFailed++;
      return false;
    }
    this.#carriedOut = true;
    return true;
  }

  /** Emits `path-carrying` once both directions happened; checked after each datagram, outside the gate. */
  #checkCarrying(): void {
    if (this.#carrying || !this.#carriedOut || !this.#carriedIn || !this.#active || this.#stopped) return;
    this.#carrying = true;
    const afterMs = this.#clock.monotonic() - this.#activeSinceMono;
    this.#log.info('path-carrying', { path: this.#active.kind, afterMs });
    this.emit('path-carrying', { path: this.#active, afterMs });
  }

  #fromPath(entry: PathEntry, d: Buffer): void {
    if (!this.#socket) {
      this.#stats.drops.notStarted++;
      return;
    }
    if (isProbe(d)) {
      this.#paths.onProbe(entry, d);
      return;
    }
    if (!isWireGuardMessage(d)) {
      this.#stats.drops.notWireguard++;
      return;
    }
    this.#paths.heard(entry, 'traffic');
    if (this.#stopped) return; // a path-alive listener stopped us
    if (d.length > MAX_UDP_PAYLOAD) {
      this.#stats.drops.oversize++;
      return;
    }
    this.#handshakes.fromRemote(d);
    if (entry.path === this.#active && (d[0] === MESSAGE_TRANSPORT_TYPE || d[0] === MESSAGE_RESPONSE_TYPE)) {
      this.#carriedIn = true;
    }
    if (d[0] === MESSAGE_TRANSPORT_TYPE && entry.path !== this.#remotePath) this.#remoteMoved(entry.path);
    this.#checkCarrying();
  }

  #remoteMoved(path: DatagramPath): void {
    const from = this.#remotePath;
    this.#remotePath = path;
    this.#log.debug('remote-path', { path: path.kind, from: from?.kind ?? null });
    this.emit('remote-path', { path, from });
  }

  #toWireguard(d: Buffer): void {
    if (!this.#socket) return;
    this.#stats.toWireguard.packets++;
    this.#stats.toWireguard.bytes += d.length;
    this.#socket.send(d);
  }
}

function nonNegative(v: number, what: string): number {
  if (!Number.isFinite(v) || v < 0) throw new InvalidArgumentError(`${what} must be a number >= 0`);
  return v;
}

function positive(v: number, what: string): number {
  if (!Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`${what} must be a number > 0`);
  return v;
}
