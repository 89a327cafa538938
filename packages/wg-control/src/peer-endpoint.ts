import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { isIP, isIPv6 } from 'node:net';
import {
  type Clock,
  ClosedError,
  type DatagramPath,
  InvalidArgumentError,
  type Logger,
  type PathCloseInfo,
  silentLogger,
  systemClock,
  type Timer,
} from '@mesh/core';
import { EventEmitter } from 'eventemitter3';
import { validatePort } from './device.js';
import { decodeProbe, encodeProbe, isProbe, isWireGuardMessage, PING, PONG } from './probe.js';

/** Largest payload one UDP datagram can carry over IPv4. */
export const MAX_UDP_PAYLOAD = 65_507;
const HANDSHAKE_INITIATION = 1;
const HANDSHAKE_RESPONSE = 2;
/** WireGuard's message sizes: type, 3 zero bytes, the sender's index (LE u32); a response then the receiver's. */
const INITIATION_SIZE = 148;
const RESPONSE_SIZE = 92;
/** WireGuard's REKEY_TIMEOUT: after it, WireGuard has sent a newer initiation of its own. */
const REKEY_TIMEOUT_MS = 5_000;
/**
 * How long a remote initiation that crossed ours waits for the answer to ours before it goes to
 * WireGuard anyway (ours may have been lost): far below the 5 s retry it saves, above a relay RTT.
 */
export const CROSSED_INITIATION_WAIT_MS = 1_000;
/** WireGuard answers an initiation within milliseconds; no answer by then means it rejected it. */
export const ANSWER_WAIT_MS = 250;

export interface PeerEndpointOptions {
  /** WireGuard's listen port on `host`. The socket is connected to it: only WireGuard's datagrams are forwarded out. */
  wireguardPort: number;
  /** Loopback address WireGuard and the endpoint share. Default 127.0.0.1. */
  host?: string;
  clock?: Clock;
  logger?: Logger;
  /** One probe per attached path every this many ms. Default 1000; 0 = never probe (still answer). */
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

export interface PathStatus {
  path: DatagramPath;
  /** null until the first verdict. */
  alive: boolean | null;
  /** Latest probe round-trip time, null until a pong came back. */
  rttMs: number | null;
  /** True once the remote has sent a probe or answered one on this path. */
  probeCapable: boolean;
  /** Wall ms of the last datagram of any kind received on the path; 0 = none. */
  lastRxAt: number;
}

export interface PeerEndpointDrops {
  /** From WireGuard while no path is active. */
  noActivePath: number;
  /** The active path's send() returned false (closed, oversize, queue full). */
  pathSendFailed: number;
  /** Arrived on a path, neither a probe nor a WireGuard message. */
  notWireguard: number;
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

export interface PeerEndpointStats {
  fromWireguard: { packets: number; bytes: number };
  toWireguard: { packets: number; bytes: number };
  probesSent: number;
  /** Handshake messages (initiation or response) held while no path was active and sent when one became active. */
  heldHandshakesSent: number;
  /**
   * Remote initiations that crossed one of WireGuard's own (both sides initiated at once) and were
   * held back so that only one of the two handshakes runs.
   */
  crossedInitiationsHeld: number;
  pongsSent: number;
  pongsReceived: number;
  drops: PeerEndpointDrops;
}

export interface PeerEndpointEvents {
  'path-alive': (info: { path: DatagramPath; rttMs: number | null; via: 'probe' | 'traffic' }) => void;
  'path-silent': (info: { path: DatagramPath; silentForMs: number }) => void;
  'active-changed': (info: {
    from: DatagramPath | null;
    to: DatagramPath | null;
    reason: 'set' | 'detached' | 'closed';
  }) => void;
  /** An attached path closed by itself; it has been detached. */
  'path-closed': (info: { path: DatagramPath; reason: string }) => void;
}

interface Entry {
  path: DatagramPath;
  onData: (d: Buffer) => void;
  onClose: (info: PathCloseInfo) => void;
  sinceMono: number;
  lastRxMono: number;
  lastRxAt: number;
  alive: boolean | null;
  rttMs: number | null;
  probeCapable: boolean;
}

/**
 * The per-peer local endpoint WireGuard is configured with once (ARCHITECTURE §3): a UDP socket on
 * 127.0.0.1:<ephemeral>. WireGuard's packets go to the active path; packets from any attached path
 * go to WireGuard from this same socket, so switching paths never changes WireGuard's endpoint.
 * Probes on every attached path measure RTT and give `path-alive` / `path-silent` verdicts.
 */
export class PeerEndpoint extends EventEmitter<PeerEndpointEvents> {
  readonly host: string;
  readonly wireguardPort: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #probeMs: number;
  readonly #trustMs: number;
  readonly #trafficTrustMs: number;
  readonly #bufferBytes: number | undefined;
  readonly #id = randomBytes(8);
  readonly #entries = new Map<DatagramPath, Entry>();
  #heldHandshake: { msg: Buffer; atMono: number } | undefined;
  /** WireGuard's latest initiation (sent or held) that is neither answered nor abandoned by it. */
  #ownInitiation: { sender: number; atMono: number } | undefined;
  /** Hands a held crossed remote initiation to WireGuard unless ours is answered first. */
  #crossedTimer: Timer | undefined;
  /** A remote initiation handed to WireGuard, not answered yet. */
  #answering: { sender: number; timer: Timer } | undefined;
  /** WireGuard's own initiation made while #answering: held until WireGuard answers (then dropped). */
  #doomedInitiation: Buffer | undefined;
  /** The remote PeerEndpoint has sent or answered a probe on some path. */
  #remoteProbes = false;
  #socket: Socket | undefined;
  #address: { host: string; port: number } | null = null;
  #starting: Promise<{ host: string; port: number }> | undefined;
  #stopped = false;
  #active: DatagramPath | null = null;
  #timers: Timer[] = [];
  readonly #stats: PeerEndpointStats = {
    fromWireguard: { packets: 0, bytes: 0 },
    toWireguard: { packets: 0, bytes: 0 },
    probesSent: 0,
    heldHandshakesSent: 0,
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
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? silentLogger).child({ component: 'peer-endpoint' });
    this.#probeMs = nonNegative(options.probeIntervalMs ?? 1000, 'probeIntervalMs');
    this.#trustMs = positive(options.trustWindowMs ?? 3000, 'trustWindowMs');
    this.#trafficTrustMs = positive(options.trafficTrustWindowMs ?? 30_000, 'trafficTrustWindowMs');
    this.#bufferBytes = options.socketBufferBytes;
  }

  /** The address to configure as the peer's WireGuard endpoint; null before start(). */
  get address(): { host: string; port: number } | null {
    return this.#address;
  }

  get active(): DatagramPath | null {
    return this.#active;
  }

  get paths(): DatagramPath[] {
    return [...this.#entries.keys()];
  }

  get stats(): PeerEndpointStats {
    return structuredClone(this.#stats);
  }

  pathStatus(path: DatagramPath): PathStatus | undefined {
    const e = this.#entries.get(path);
    if (!e) return undefined;
    return { path, alive: e.alive, rttMs: e.rttMs, probeCapable: e.probeCapable, lastRxAt: e.lastRxAt };
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
    if (this.#probeMs > 0) this.#timers.push(this.#clock.setInterval(() => this.#probeAll(), this.#probeMs));
    const checkMs = Math.max(1, Math.min(this.#probeMs || this.#trustMs, Math.ceil(this.#trustMs / 4)));
    this.#timers.push(this.#clock.setInterval(() => this.#judgeAll(), checkMs));
    this.#log.debug('started', { port, wireguardPort: this.wireguardPort });
    return this.#address;
  }

  /** Starts listening on a path (idempotent). The endpoint never closes paths: their owner does. */
  attach(path: DatagramPath): void {
    if (this.#stopped) throw new ClosedError('PeerEndpoint is stopped');
    if (this.#entries.has(path)) return;
    if (path.closed) throw new InvalidArgumentError(`cannot attach a closed ${path.kind} path`);
    const mono = this.#clock.monotonic();
    const entry: Entry = {
      path,
      onData: (d) => this.#fromPath(entry, d),
      onClose: (info) => this.#pathClosed(entry, info),
      sinceMono: mono,
      lastRxMono: Number.NEGATIVE_INFINITY,
      lastRxAt: 0,
      alive: null,
      rttMs: null,
      // The remote answers probes per endpoint, not per path: once it did on any path, a new path
      // (say a relay conn reopened after a failure) is judged by the short trust window at once.
      probeCapable: this.#remoteProbes,
    };
    this.#entries.set(path, entry);
    path.on('data', entry.onData);
    path.on('close', entry.onClose);
    if (this.#socket && this.#probeMs > 0) this.#ping(entry);
  }

  detach(path: DatagramPath): void {
    const entry = this.#entries.get(path);
    if (!entry) return;
    this.#remove(entry);
    if (this.#active === path) this.#setActive(null, 'detached');
  }

  /** Chooses the path WireGuard's packets go to; null drops them (counted). The path must be attached. */
  setActive(path: DatagramPath | null): void {
    if (this.#stopped) throw new ClosedError('PeerEndpoint is stopped');
    if (path !== null && !this.#entries.has(path))
      throw new InvalidArgumentError('setActive: the path is not attached');
    if (path === this.#active) return;
    this.#setActive(path, 'set');
  }

  /** Closes the socket, cancels every timer and detaches every path (without closing them). Idempotent; silent afterwards. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) t.cancel();
    this.#timers = [];
    this.#crossedTimer?.cancel();
    this.#crossedTimer = undefined;
    this.#answering?.timer.cancel();
    this.#answering = undefined;
    for (const e of [...this.#entries.values()]) this.#remove(e);
    this.#active = null;
    this.#socket?.close();
    this.#socket = undefined;
    this.#log.debug('stopped');
  }

  #setActive(path: DatagramPath | null, reason: 'set' | 'detached' | 'closed'): void {
    const from = this.#active;
    this.#active = path;
    const held = this.#heldHandshake;
    this.#heldHandshake = undefined;
    // Only WireGuard's newest handshake message is valid (it forgets a handshake when it starts or
    // answers another), and only until WireGuard (or the remote) sends its retry.
    if (path && held && this.#clock.monotonic() - held.atMono < REKEY_TIMEOUT_MS) {
      this.#stats.heldHandshakesSent++;
      if (!path.send(held.msg)) this.#stats.drops.pathSendFailed++;
    }
    this.#log.info('active-changed', { from: from?.kind ?? null, to: path?.kind ?? null, reason });
    this.emit('active-changed', { from, to: path, reason });
  }

  #remove(entry: Entry): void {
    entry.path.off('data', entry.onData);
    entry.path.off('close', entry.onClose);
    this.#entries.delete(entry.path);
  }

  #pathClosed(entry: Entry, info: PathCloseInfo): void {
    this.#remove(entry);
    if (this.#active === entry.path) this.#setActive(null, 'closed');
    this.emit('path-closed', { path: entry.path, reason: info.reason });
  }

  #fromWireguard(msg: Buffer): void {
    this.#stats.fromWireguard.packets++;
    this.#stats.fromWireguard.bytes += msg.length;
    if (msg[0] === HANDSHAKE_INITIATION && msg.length === INITIATION_SIZE) {
      this.#ownInitiation = { sender: msg.readUInt32LE(4), atMono: this.#clock.monotonic() };
      if (this.#answering) {
        // Made before WireGuard got to the remote initiation it is answering: answering forgets it.
        this.#doomedInitiation = msg;
        return;
      }
    } else if (msg[0] === HANDSHAKE_RESPONSE && msg.length === RESPONSE_SIZE) {
      this.#ownInitiation = undefined; // WireGuard answered a remote initiation, and so forgot its own
      if (this.#answering && msg.readUInt32LE(8) === this.#answering.sender) this.#answered(true);
    }
    this.#toPath(msg);
  }

  #toPath(msg: Buffer): void {
    const active = this.#active;
    if (!active) {
      this.#stats.drops.noActivePath++;
      // WireGuard retries an unanswered initiation only every 5 s (REKEY_TIMEOUT) and never resends
      // a response: keep the latest of either so the next active path carries it at once. A
      // response replaces an initiation WireGuard has forgotten (sent late, it would only make the
      // remote forget the handshake this response completes).
      if ((msg[0] === HANDSHAKE_INITIATION || msg[0] === HANDSHAKE_RESPONSE) && isWireGuardMessage(msg)) {
        this.#heldHandshake = { msg, atMono: this.#clock.monotonic() };
      }
    } else if (!active.send(msg)) this.#stats.drops.pathSendFailed++;
  }

  #fromPath(entry: Entry, d: Buffer): void {
    const socket = this.#socket;
    if (!socket) {
      this.#stats.drops.notStarted++;
      return;
    }
    if (isProbe(d)) {
      this.#onProbe(entry, d);
      return;
    }
    if (!isWireGuardMessage(d)) {
      this.#stats.drops.notWireguard++;
      return;
    }
    this.#heard(entry, 'traffic');
    if (this.#stopped) return; // a path-alive listener stopped us
    if (d.length > MAX_UDP_PAYLOAD) {
      this.#stats.drops.oversize++;
      return;
    }
    if (d[0] === HANDSHAKE_INITIATION && d.length === INITIATION_SIZE) {
      this.#dropCrossed(); // a newer remote initiation supersedes it
      if (!this.#holdCrossed(d)) this.#toWireguardInitiation(d);
      return;
    }
    if (d[0] === HANDSHAKE_RESPONSE && d.length === RESPONSE_SIZE) {
      if (this.#ownInitiation && d.readUInt32LE(8) === this.#ownInitiation.sender) {
        this.#ownInitiation = undefined;
        this.#dropCrossed();
      }
    }
    this.#toWireguard(d);
  }

  #toWireguard(d: Buffer): void {
    if (!this.#socket) return;
    this.#stats.toWireguard.packets++;
    this.#stats.toWireguard.bytes += d.length;
    this.#socket.send(d);
  }

  /** Hands WireGuard a remote initiation and watches for its answer (see #fromWireguard). */
  #toWireguardInitiation(d: Buffer): void {
    this.#answering?.timer.cancel();
    this.#answering = {
      sender: d.readUInt32LE(4),
      timer: this.#clock.setTimeout(() => this.#answered(false), ANSWER_WAIT_MS),
    };
    this.#toWireguard(d);
  }

  /**
   * WireGuard answered the remote initiation (`true`): an initiation of its own made meanwhile is
   * forgotten, dropped. Or it did not answer in time (rejected it: replay, flood): send that one.
   */
  #answered(answered: boolean): void {
    this.#answering?.timer.cancel();
    this.#answering = undefined;
    const doomed = this.#doomedInitiation;
    this.#doomedInitiation = undefined;
    if (!doomed) return;
    if (!answered) {
      this.#toPath(doomed);
      return;
    }
    this.#stats.drops.forgottenInitiation++;
    this.#log.debug('forgotten-initiation-dropped');
  }

  /**
   * Both WireGuards initiated at once (e.g. both configured at the same instant, each initiation
   * held until a path came up). WireGuard keeps one handshake per peer: answering the remote's
   * initiation discards its own, so each side drops the other's answer and the tunnel waits for
   * the 5 s retry. Both endpoints see the same two sender indexes and agree: the initiation with
   * the lower one is answered, the other is held back here and dropped once ours is answered
   * (or handed to WireGuard after CROSSED_INITIATION_WAIT_MS, in case ours was lost).
   */
  #holdCrossed(d: Buffer): boolean {
    const own = this.#ownInitiation;
    if (!own || this.#clock.monotonic() - own.atMono >= REKEY_TIMEOUT_MS) return false;
    if (d.readUInt32LE(4) <= own.sender) return false;
    this.#stats.crossedInitiationsHeld++;
    this.#log.debug('crossed-initiation-held');
    this.#crossedTimer = this.#clock.setTimeout(() => {
      this.#crossedTimer = undefined;
      this.#log.debug('crossed-initiation-released');
      this.#toWireguardInitiation(d);
    }, CROSSED_INITIATION_WAIT_MS);
    return true;
  }

  #dropCrossed(): void {
    if (!this.#crossedTimer) return;
    this.#crossedTimer.cancel();
    this.#crossedTimer = undefined;
    this.#stats.drops.crossedInitiation++;
    this.#log.debug('crossed-initiation-dropped');
  }

  #onProbe(entry: Entry, d: Buffer): void {
    const probe = decodeProbe(d);
    if (!probe) {
      this.#stats.drops.malformedProbe++;
      return;
    }
    entry.probeCapable = true;
    this.#remoteProbes = true;
    if (probe.kind === PING) {
      if (entry.path.send(encodeProbe(PONG, probe.sentAt, probe.id))) this.#stats.pongsSent++;
    } else if (probe.id.equals(this.#id)) {
      this.#stats.pongsReceived++;
      const rtt = this.#clock.monotonic() - probe.sentAt;
      if (rtt >= 0 && rtt < 60_000) entry.rttMs = rtt;
    }
    this.#heard(entry, 'probe');
  }

  #heard(entry: Entry, via: 'probe' | 'traffic'): void {
    entry.lastRxMono = this.#clock.monotonic();
    entry.lastRxAt = this.#clock.now();
    if (entry.alive === true) return;
    entry.alive = true;
    this.#log.info('path-alive', { path: entry.path.kind, via, rttMs: entry.rttMs });
    this.emit('path-alive', { path: entry.path, rttMs: entry.rttMs, via });
  }

  #ping(entry: Entry): void {
    if (entry.path.send(encodeProbe(PING, this.#clock.monotonic(), this.#id))) this.#stats.probesSent++;
  }

  #probeAll(): void {
    for (const e of this.#entries.values()) this.#ping(e);
  }

  #judgeAll(): void {
    const mono = this.#clock.monotonic();
    for (const e of [...this.#entries.values()]) {
      if (this.#stopped) return;
      const window = e.probeCapable ? this.#trustMs : this.#trafficTrustMs;
      const silentFor = mono - Math.max(e.lastRxMono, e.sinceMono);
      if (silentFor <= window || e.alive === false) continue;
      e.alive = false;
      this.#log.info('path-silent', { path: e.path.kind, silentForMs: silentFor });
      this.emit('path-silent', { path: e.path, silentForMs: silentFor });
    }
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
