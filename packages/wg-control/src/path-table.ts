import { randomBytes } from 'node:crypto';
import { type Clock, type DatagramPath, type Logger, type PathCloseInfo, Subscriptions, type Timer } from '@mesh/core';
import { PathQuality, type ProbeOutcome } from './path-quality.js';
import type { PathStatus, PeerEndpointEvents, PeerEndpointStats } from './peer-endpoint.js';
import { decodeProbe, encodeProbe, PING, PONG } from './probe.js';

/** One attached path and what its probes and traffic have shown. */
export interface PathEntry {
  readonly path: DatagramPath;
  readonly subs: Subscriptions;
  readonly sinceMono: number;
  lastRxMono: number;
  lastRxAt: number;
  alive: boolean | null;
  /** Loss and RTT from this path's probes. */
  readonly quality: PathQuality;
  probeCapable: boolean;
}

export interface PathTableOptions {
  clock: Clock;
  log: Logger;
  /** Shared with the endpoint: the table counts probes, pongs and malformed probes. */
  stats: PeerEndpointStats;
  probeMs: number;
  trustMs: number;
  trafficTrustMs: number;
  /** Every datagram from an attached path, probe or not. */
  onDatagram: (entry: PathEntry, d: Buffer) => void;
  /** An attached path closed by itself; the table has already dropped it. */
  onClosed: (entry: PathEntry, info: PathCloseInfo) => void;
  onAlive: (info: Parameters<PeerEndpointEvents['path-alive']>[0]) => void;
  onSilent: (info: Parameters<PeerEndpointEvents['path-silent']>[0]) => void;
  /** A probe was judged: answered, or lost. */
  onProbe: (info: Parameters<PeerEndpointEvents['path-probe']>[0]) => void;
}

/**
 * PeerEndpoint's attached paths: probes each one (ping every `probeMs`, answer pings), measures
 * loss and RTT (PathQuality) and gives the `alive` / `silent` verdicts. Its two interval timers run
 * from start() to stop(); the verdict one also judges unanswered probes lost.
 */
export class PathTable {
  readonly #o: PathTableOptions;
  /** This endpoint's id in probes, so a pong is only credited to the endpoint that sent the ping. */
  readonly #id = randomBytes(8);
  readonly #entries = new Map<DatagramPath, PathEntry>();
  /** The remote PeerEndpoint has sent or answered a probe on some path. */
  #remoteProbes = false;
  #timers: Timer[] = [];
  #started = false;
  #stopped = false;

  constructor(options: PathTableOptions) {
    this.#o = options;
  }

  get paths(): DatagramPath[] {
    return [...this.#entries.keys()];
  }

  has(path: DatagramPath): boolean {
    return this.#entries.has(path);
  }

  /** What the table knows of a path; `carrying` is the endpoint's (see PathStatus). */
  status(path: DatagramPath, carrying: boolean): PathStatus | undefined {
    const e = this.#entries.get(path);
    if (!e) return undefined;
    const q = e.quality;
    return {
      path,
      alive: e.alive,
      rttMs: q.rttMs,
      srttMs: q.srttMs,
      lossPct: q.lossPct,
      probesInWindow: q.probesInWindow,
      probeCapable: e.probeCapable,
      lastRxAt: e.lastRxAt,
      carrying,
    };
  }

  /** The path is attached and silent: what goes out on it is probably lost. */
  isSilent(path: DatagramPath): boolean {
    return this.#entries.get(path)?.alive === false;
  }

  /** Starts probing and judging every attached path. */
  start(): void {
    const { clock, probeMs, trustMs } = this.#o;
    this.#started = true;
    if (probeMs > 0) this.#timers.push(clock.setInterval(() => this.#probeAll(), probeMs));
    const checkMs = Math.max(1, Math.min(probeMs || trustMs, Math.ceil(trustMs / 4)));
    this.#timers.push(clock.setInterval(() => this.#judgeAll(), checkMs));
  }

  /** Cancels the timers and drops every path (without closing them). */
  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) t.cancel();
    this.#timers = [];
    for (const e of [...this.#entries.values()]) this.remove(e.path);
  }

  /** Starts listening on a path; false when it was attached already. */
  add(path: DatagramPath): boolean {
    if (this.#entries.has(path)) return false;
    const entry: PathEntry = {
      path,
      subs: new Subscriptions(),
      sinceMono: this.#o.clock.monotonic(),
      lastRxMono: Number.NEGATIVE_INFINITY,
      lastRxAt: 0,
      alive: null,
      quality: new PathQuality(),
      // The remote answers probes per endpoint, not per path: once it did on any path, a new path
      // (say a relay conn reopened after a failure) is judged by the short trust window at once.
      probeCapable: this.#remoteProbes,
    };
    this.#entries.set(path, entry);
    entry.subs
      .on(path, 'data', (d) => this.#o.onDatagram(entry, d))
      .on(path, 'close', (info) => {
        this.remove(path);
        this.#o.onClosed(entry, info);
      });
    if (this.#started && this.#o.probeMs > 0) this.#ping(entry);
    return true;
  }

  /** Stops listening on a path; false when it was not attached. */
  remove(path: DatagramPath): boolean {
    const entry = this.#entries.get(path);
    if (!entry) return false;
    entry.subs.clear();
    this.#entries.delete(path);
    return true;
  }

  /** Handles a datagram carrying the probe magic: answers a ping, judges the probe a pong answers. */
  onProbe(entry: PathEntry, d: Buffer): void {
    const { stats, clock } = this.#o;
    const probe = decodeProbe(d);
    if (!probe) {
      stats.drops.malformedProbe++;
      return;
    }
    entry.probeCapable = true;
    this.#remoteProbes = true;
    let outcome: ProbeOutcome | undefined;
    if (probe.kind === PING) {
      if (entry.path.send(encodeProbe(PONG, probe.sentAt, probe.id))) stats.pongsSent++;
    } else if (probe.id.equals(this.#id)) {
      stats.pongsReceived++;
      outcome = entry.quality.pong(probe.sentAt, clock.monotonic());
    }
    this.heard(entry, 'probe');
    if (outcome && this.#attached(entry)) this.#probed(entry, outcome);
  }

  /** Something arrived on the path: it is alive (emitted on the first datagram after silence). */
  heard(entry: PathEntry, via: 'probe' | 'traffic'): void {
    entry.lastRxMono = this.#o.clock.monotonic();
    entry.lastRxAt = this.#o.clock.now();
    if (entry.alive === true) return;
    entry.alive = true;
    const rttMs = entry.quality.rttMs;
    this.#o.log.info('path-alive', { path: entry.path.kind, via, rttMs });
    this.#o.onAlive({ path: entry.path, rttMs, via });
  }

  /** Still attached to a running table (a listener may have detached it or stopped the endpoint). */
  #attached(entry: PathEntry): boolean {
    return !this.#stopped && this.#entries.get(entry.path) === entry;
  }

  #probed(entry: PathEntry, { answered, rttMs }: ProbeOutcome): void {
    const { lossPct, srttMs } = entry.quality;
    this.#o.onProbe({ path: entry.path, answered, rttMs, lossPct, srttMs });
  }

  #ping(entry: PathEntry): void {
    const sentAt = this.#o.clock.monotonic();
    if (!entry.path.send(encodeProbe(PING, sentAt, this.#id))) return;
    this.#o.stats.probesSent++;
    entry.quality.sent(sentAt);
  }

  #probeAll(): void {
    for (const e of this.#entries.values()) this.#ping(e);
  }

  #judgeAll(): void {
    const mono = this.#o.clock.monotonic();
    for (const e of [...this.#entries.values()]) {
      while (this.#attached(e) && e.quality.expireOne(mono, e.probeCapable)) {
        this.#probed(e, { answered: false, rttMs: null });
      }
      if (!this.#attached(e)) continue; // a listener detached it or stopped the endpoint
      const window = e.probeCapable ? this.#o.trustMs : this.#o.trafficTrustMs;
      const silentFor = mono - Math.max(e.lastRxMono, e.sinceMono);
      if (silentFor <= window || e.alive === false) continue;
      e.alive = false;
      this.#o.log.info('path-silent', { path: e.path.kind, silentForMs: silentFor });
      this.#o.onSilent({ path: e.path, silentForMs: silentFor });
    }
  }
}
