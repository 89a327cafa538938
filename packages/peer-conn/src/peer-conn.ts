import {
  Backoff,
  type Clock,
  type DatagramPath,
  hasCode,
  type Logger,
  type PeerKey,
  silentLogger,
  systemClock,
  type Timer,
  toError,
} from '@mesh/core';
import type { IceConnectedInfo, IceDisconnectedInfo, IceSessionRotatedInfo, IceWorker } from '@mesh/ice-worker';
import type { RelayDisconnectedInfo, RelayManager } from '@mesh/relay-manager';
import {
  type HandshakeTimeoutInfo,
  HandshakeWatcher,
  type HandshakeWatcherOptions,
  type PeerEndpoint,
  type WgDevice,
} from '@mesh/wg-control';
import { EventEmitter } from 'eventemitter3';
import PQueue from 'p-queue';
import { Guard } from './guard.js';
import {
  type IceOfferPart,
  LOCAL_CAPABILITIES,
  type OfferMessage,
  parseSignalMessage,
  SIGNAL_PROTOCOL_VERSION,
  type SignalMessage,
} from './messages.js';
import type { Signaler } from './signaler.js';

export type PathKind = 'none' | 'relay' | 'ice-turn' | 'ice-direct';

/** Higher wins: a better path takes over as soon as it is up and alive. */
export const PATH_PRIORITY: Readonly<Record<PathKind, number>> = { none: 0, relay: 1, 'ice-turn': 2, 'ice-direct': 3 };

/**
 * What an offer does when the relay client already holds an entry for the peer
 * (`ERR_CONN_ALREADY_EXISTS`). Only `stale-flag` is for production; the other two reproduce
 * NetBird's old behaviour and its naive fix so tests can prove they see both bugs.
 */
export type RelayExistsPolicy = 'stale-flag' | 'reuse' | 'always-reopen';

/** The parts of the relay manager PeerConn uses. */
export type RelayPort = Pick<
  RelayManager,
  'homeInstanceUrl' | 'openConn' | 'closeConnByPeerKey' | 'reconnect' | 'retryHome' | 'on' | 'off'
>;
/** The parts of the WireGuard device PeerConn uses. */
export type DevicePort = Pick<WgDevice, 'name' | 'getPeer' | 'upsertPeer' | 'removePeer'>;

export interface PeerConnOptions {
  localKey: PeerKey;
  remoteKey: PeerKey;
  device: DevicePort;
  /** Not started yet: PeerConn starts it, configures WireGuard with its address once, and stops it. */
  endpoint: PeerEndpoint;
  /** Null: no relay configured (ICE only). */
  relay: RelayPort | null;
  /** Null: no ICE (relay only). Called once per PeerConn. */
  iceWorkerFactory: (() => IceWorker) | null;
  signaler: Signaler;
  allowedIps: string[];
  /** WireGuard persistent keepalive; it keeps every path carrying traffic (default 25 s). */
  persistentKeepaliveSec?: number;
  watcher?: Pick<
    HandshakeWatcherOptions,
    'firstHandshakeTimeoutMs' | 'staleAfterMs' | 'checkIntervalMs' | 'clockJumpToleranceMs'
  >;
  guard?: { initialMs?: number; maxMs?: number; jitter?: number; random?: () => number };
  /**
   * While ICE runs over TURN with a live relay standby, the controller retries for a direct pair
   * after this ladder (default 15 s doubling to 10 min; reset once direct).
   */
  turnUpgrade?: { initialMs?: number; maxMs?: number };
  /**
   * Follower only: how long the controller's home relay stays marked unreachable after a failed
   * dial before it is probed again (default 300 000 ms). Meanwhile both sides meet on the
   * follower's home relay.
   */
  relayUnreachableTtlMs?: number;
  clock?: Clock;
  logger?: Logger;
  /** Test-only switch for negative controls; keep the default. */
  relayExistsPolicy?: RelayExistsPolicy;
}

export interface PeerConnCounters {
  offersSent: number;
  offersReceived: number;
  answersSent: number;
  answersReceived: number;
  candidatesSent: number;
  candidatesReceived: number;
  badMessages: number;
  relayOpens: number;
  relayReopens: number;
  /** Relay entries this peer closed (by key or because the path died under it). */
  relayTeardowns: number;
  iceSessions: number;
  recoveries: number;
}

export interface PeerConnStatus {
  remoteKey: string;
  controller: boolean;
  active: PathKind;
  standby: PathKind[];
  /** `unreachable` (follower only, while marked): the controller's home relay it could not reach. */
  relay: { server: string | null; stale: boolean; open: boolean; unreachable?: string };
  ice: { localSessionId: string | null; remoteSessionId: string | null; connecting: boolean; kind: PathKind | null };
  lastHandshakeAt: number;
  rxBytes: number;
  txBytes: number;
  counters: PeerConnCounters;
}

export interface PathChangedInfo {
  from: PathKind;
  to: PathKind;
  reason: string;
}

export interface PeerConnEvents {
  'path-changed': (info: PathChangedInfo) => void;
  /** The relay entry was judged dead; the next offer closes and reopens it. */
  'stale-marked': (info: { reason: string; server: string | null }) => void;
  'session-rotated': (info: IceSessionRotatedInfo) => void;
  /** Traffic flows again after an outage. */
  recovered: (info: { outageMs: number; path: PathKind }) => void;
  /** An operation failed in a way the owner may want to log (nothing is thrown from events). */
  error: (error: Error) => void;
}

interface Slot {
  path: DatagramPath;
  kind: Exclude<PathKind, 'none'>;
  /** The endpoint's latest verdict; null until the first one. */
  alive: boolean | null;
  /** Judged dead by the handshake watcher: never chosen again, waiting to be replaced. */
  dead: boolean;
  /** Relay only: opened to replace a stale entry. */
  reopened: boolean;
  everAlive: boolean;
}

/**
 * One remote peer's WireGuard connection. WireGuard is configured once with the PeerEndpoint's
 * local address; PeerConn brings up the relay and ICE paths, keeps the best live one active, and
 * repairs whatever dies: a relay entry judged dead is marked stale and replaced on the next offer,
 * an ICE session judged dead is rotated. Every state change runs in one serial queue.
 */
export class PeerConn extends EventEmitter<PeerConnEvents> {
  readonly localKey: PeerKey;
  readonly remoteKey: PeerKey;
  readonly controller: boolean;
  readonly #o: PeerConnOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #policy: RelayExistsPolicy;
  readonly #queue = new PQueue({ concurrency: 1 });
  readonly #guard: Guard;
  readonly #counters: PeerConnCounters = {
    offersSent: 0,
    offersReceived: 0,
    answersSent: 0,
    answersReceived: 0,
    candidatesSent: 0,
    candidatesReceived: 0,
    badMessages: 0,
    relayOpens: 0,
    relayReopens: 0,
    relayTeardowns: 0,
    iceSessions: 0,
    recoveries: 0,
  };
  #state: 'new' | 'running' | 'stopped' = 'new';
  #ice: IceWorker | null = null;
  #watcher: HandshakeWatcher | null = null;
  #iceSlot: Slot | null = null;
  #relaySlot: Slot | null = null;
  readonly #turnUpgrade: Backoff;
  #turnUpgradeTimer: Timer | undefined;
  #relay = {
    server: null as string | null,
    stale: false,
    /** What set the flag; a `silent` verdict is withdrawn when the path answers again. */
    staleReason: '',
    /** Bumped by every open attempt and close, so a late result of an older attempt is discarded. */
    gen: 0,
    /** The server an open is in flight to, or null. */
    opening: null as string | null,
  };
  /**
   * Follower only: the controller's home relay we failed to reach (F-R-12, NetBird #4498), until a
   * probe after the TTL succeeds. While set (and the controller speaks `relay-fallback`) both
   * sides meet on our home relay instead.
   */
  #unreachable: { url: string; timer: Timer | undefined } | null = null;
  readonly #unreachableTtlMs: number;
  /** Controller only: the relay the remote said (in its latest offer or answer) it cannot reach. */
  #remoteUnreachable: string | null = null;
  #active: Slot | null = null;
  /** Wall ms when traffic last flowed before the current outage; null when not in an outage. */
  #outageSince: number | null = null;
  #remoteCaps: string[] = [];
  #remoteRelayUrl: string | null = null;
  #remoteIceSession: string | null = null;
  /** Our candidates for the current local ICE session, repeated in every offer and answer. */
  #localCandidates: { sessionId: string; list: unknown[] } = { sessionId: '', list: [] };
  /** Remote candidates already handed to the ICE worker, so repeats cost nothing. */
  #appliedCandidates = new Set<string>();
  #unsubscribe: (() => void)[] = [];

  constructor(options: PeerConnOptions) {
    super();
    this.#o = options;
    this.localKey = options.localKey;
    this.remoteKey = options.remoteKey;
    this.controller = options.localKey.isControllerFor(options.remoteKey);
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? silentLogger).child({ peer: options.remoteKey.toShortString() });
    this.#policy = options.relayExistsPolicy ?? 'stale-flag';
    this.#unreachableTtlMs = options.relayUnreachableTtlMs ?? 300_000;
    this.#turnUpgrade = new Backoff({
      initial: options.turnUpgrade?.initialMs ?? 15_000,
      max: options.turnUpgrade?.maxMs ?? 600_000,
      jitter: 0.2,
    });
    this.#guard = new Guard({
      clock: this.#clock,
      ...options.guard,
      onTick: () => this.#run('guard-tick', () => this.#onGuardTick()),
    });
  }

  get counters(): Readonly<PeerConnCounters> {
    return { ...this.#counters };
  }

  get activePath(): PathKind {
    return this.#active?.kind ?? 'none';
  }

  /**
   * Starts the endpoint, configures WireGuard once, subscribes to every source of events and sends
   * the first offer. Idempotent.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') return;
    this.#state = 'running';
    const o = this.#o;
    const address = await o.endpoint.start();
    if (this.#state !== 'running') return;
    this.#watcher = new HandshakeWatcher({
      device: o.device,
      peer: this.remoteKey,
      clock: this.#clock,
      logger: this.#log,
      ...o.watcher,
    });
    // Baseline first, then the endpoint: a handshake left over from an earlier life does not count.
    await this.#watcher.start();
    if (this.#state !== 'running') return;
    await o.device.upsertPeer({
      publicKey: this.remoteKey,
      endpoint: `${address.host}:${address.port}`,
      allowedIps: o.allowedIps,
      replaceAllowedIps: true,
      persistentKeepalive: o.persistentKeepaliveSec ?? 25,
    });
    if (this.#state !== 'running') return;
    this.#ice = o.iceWorkerFactory?.() ?? null;
    this.#subscribe();
    this.#log.info('peer-started', { controller: this.controller, endpoint: address.port });
    this.#guard.kick();
  }

  /**
   * Removes the WireGuard peer, closes every path and leaves no timer. Idempotent; nothing is
   * emitted afterwards.
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    const wasRunning = this.#state === 'running';
    this.#state = 'stopped';
    this.#guard.stop();
    this.#turnUpgradeTimer?.cancel();
    this.#unreachable?.timer?.cancel();
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    this.#queue.clear();
    await this.#queue.onIdle();
    this.#watcher?.stop();
    this.#o.endpoint.stop();
    const closing: Promise<unknown>[] = [];
    if (this.#ice) closing.push(this.#ice.close());
    this.#iceSlot = null;
    this.#relay.gen++;
    const server = this.#relay.server;
    if (this.#relaySlot) this.#relaySlot.path.close();
    this.#relaySlot = null;
    if (server && this.#o.relay) closing.push(this.#o.relay.closeConnByPeerKey(server, this.remoteKey).catch(() => {}));
    this.#active = null;
    if (wasRunning) closing.push(this.#o.device.removePeer(this.remoteKey).catch(() => {}));
    await Promise.all(closing);
    this.removeAllListeners();
    this.#log.info('peer-stopped');
  }

  /** Sends an offer now (outside the guard's ladder). For tests and operators; harmless when healthy. */
  sendOffer(): Promise<void> {
    return this.#run('forced-offer', () => this.#sendOfferOrAnswer('offer'));
  }

  status(): Promise<PeerConnStatus> {
    return (async () => {
      let peer = null;
      try {
        peer = this.#state === 'running' ? await this.#o.device.getPeer(this.remoteKey) : null;
      } catch {}
      const standby = [this.#iceSlot, this.#relaySlot]
        .filter((s): s is Slot => s !== null && s !== this.#active && !s.dead)
        .map((s) => s.kind);
      return {
        remoteKey: this.remoteKey.base64,
        controller: this.controller,
        active: this.activePath,
        standby,
        relay: {
          server: this.#relay.server,
          stale: this.#relay.stale,
          open: this.#relaySlot !== null,
          ...(this.#unreachable ? { unreachable: this.#unreachable.url } : {}),
        },
        ice: {
          localSessionId: this.#ice && !this.#ice.closed ? this.#ice.sessionId : null,
          remoteSessionId: this.#ice?.remoteSessionId ?? null,
          connecting: this.#ice?.connecting ?? false,
          kind: this.#iceSlot?.kind ?? null,
        },
        lastHandshakeAt: peer?.lastHandshakeAt ?? 0,
        rxBytes: peer?.rxBytes ?? 0,
        txBytes: peer?.txBytes ?? 0,
        counters: { ...this.#counters },
      };
    })();
  }

  // ---------------------------------------------------------------------------------------------
  // Plumbing: every callback below only enqueues; state changes happen inside #run.

  #run(name: string, task: () => void | Promise<void>): Promise<void> {
    if (this.#state !== 'running') return Promise.resolve();
    return this.#queue
      .add(async () => {
        if (this.#state !== 'running') return;
        await task();
      })
      .catch((err: unknown) => {
        const error = toError(err);
        this.#log.warn('task-failed', { task: name, error });
        if (this.#state === 'running') this.emit('error', error);
      });
  }

  #listen<E extends { on: (...a: never[]) => unknown; off: (...a: never[]) => unknown }>(
    emitter: E,
    event: string,
    fn: (...args: never[]) => void,
  ): void {
    // biome-ignore lint/suspicious/noExplicitAny: generic subscribe/unsubscribe over typed emitters
    const e = emitter as any;
    e.on(event, fn);
    this.#unsubscribe.push(() => e.off(event, fn));
  }

  #subscribe(): void {
    const o = this.#o;
    this.#listen(o.signaler, 'message', (from: PeerKey, raw: unknown) => {
      if (!from.equals(this.remoteKey)) return;
      this.#run('signal-message', () => this.#onSignal(raw));
    });
    this.#listen(o.signaler, 'connected', () =>
      this.#run('signal-connected', () => {
        if (!this.#fullyConnected()) this.#guard.kick();
      }),
    );
    this.#listen(o.endpoint, 'path-alive', (info: { path: DatagramPath }) =>
      this.#run('path-alive', () => this.#onVerdict(info.path, true)),
    );
    this.#listen(o.endpoint, 'path-silent', (info: { path: DatagramPath }) =>
      this.#run('path-silent', () => this.#onVerdict(info.path, false)),
    );
    this.#listen(o.endpoint, 'path-closed', (info: { path: DatagramPath; reason: string }) =>
      this.#run('path-closed', () => this.#onPathClosed(info.path, info.reason)),
    );
    const w = this.#watcher!;
    this.#listen(w, 'handshake-timeout', (info: HandshakeTimeoutInfo) =>
      this.#run('handshake-timeout', () => this.#onHandshakeTimeout(info)),
    );
    if (o.relay) {
      this.#listen(o.relay, 'relay-disconnected', (info: RelayDisconnectedInfo) => {
        if (!info.peers.some((p) => p.equals(this.remoteKey))) return;
        this.#run('relay-disconnected', () => this.#markStale(`relay-disconnected:${info.cause}`));
      });
      this.#listen(o.relay, 'reconnected', () => this.#run('relay-reconnected', () => this.#guard.kick()));
      this.#listen(o.relay, 'home-changed', () =>
        this.#run('home-changed', () => {
          this.#dropStaleMark();
          this.#guard.kick();
        }),
      );
    }
    const ice = this.#ice;
    if (ice) {
      this.#listen(ice, 'local-candidate', (m: { sessionId: string; candidate: string }) => {
        if (this.#localCandidates.sessionId !== m.sessionId)
          this.#localCandidates = { sessionId: m.sessionId, list: [] };
        if (this.#localCandidates.list.length < 32) this.#localCandidates.list.push(m);
        this.#counters.candidatesSent++;
        this.#send({ type: 'candidate', version: SIGNAL_PROTOCOL_VERSION, sessionId: m.sessionId, candidate: m });
      });
      this.#listen(ice, 'connected', (info: IceConnectedInfo) => this.#run('ice-connected', () => this.#onIceUp(info)));
      this.#listen(ice, 'disconnected', (info: IceDisconnectedInfo) =>
        this.#run('ice-disconnected', () => this.#onIceDown(info)),
      );
      this.#listen(ice, 'session-rotated', (info: IceSessionRotatedInfo) => {
        this.#log.info('session-rotated', { old: info.old, new: info.new, cause: info.cause });
        if (this.#state === 'running') this.emit('session-rotated', info);
      });
    }
  }

  #send(message: SignalMessage): void {
    this.#o.signaler.send(this.remoteKey, message).catch((err: unknown) => {
      this.#log.debug('signal-send-failed', { type: message.type, error: toError(err) });
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Signaling

  async #onSignal(raw: unknown): Promise<void> {
    let msg: SignalMessage;
    try {
      msg = parseSignalMessage(raw);
    } catch (err) {
      this.#counters.badMessages++;
      this.#log.warn('bad-signal-message', { error: toError(err) });
      return;
    }
    if (msg.type === 'candidate') {
      this.#counters.candidatesReceived++;
      await this.#applyCandidate(msg.candidate);
      return;
    }
    await this.#onOfferOrAnswer(msg);
  }

  async #applyCandidate(candidate: unknown): Promise<void> {
    const ice = this.#ice;
    if (!ice) return;
    const id = JSON.stringify(candidate);
    if (this.#appliedCandidates.has(id)) return;
    if (this.#appliedCandidates.size >= 256) this.#appliedCandidates.clear();
    this.#appliedCandidates.add(id);
    await ice.addRemoteCandidate(candidate).catch((err: unknown) => {
      this.#counters.badMessages++;
      this.#log.debug('bad-candidate', { error: toError(err) });
    });
  }

  async #onOfferOrAnswer(msg: OfferMessage): Promise<void> {
    const isOffer = msg.type === 'offer';
    if (isOffer) this.#counters.offersReceived++;
    else this.#counters.answersReceived++;
    this.#remoteCaps = msg.caps;
    this.#remoteRelayUrl = msg.relay?.url ?? null;
    // The remote is connected to that relay while our home is down: evidence it is back, so our
    // manager need not wait out its reconnect ladder (it ignores URLs that are not ours, and floods).
    if (this.#remoteRelayUrl && this.#o.relay && !this.#o.relay.homeInstanceUrl) {
      this.#o.relay.retryHome(this.#remoteRelayUrl, 'peer-reached');
    }
    this.#remoteUnreachable = msg.relay?.unreachable ?? null;
    const remoteSession = msg.ice?.sessionId ?? null;
    const sessionChanged = remoteSession !== null && remoteSession !== this.#remoteIceSession;
    if (remoteSession !== null) this.#remoteIceSession = remoteSession;

    const ice = this.#ice;
    let answerIce: IceOfferPart | undefined;
    if (ice && msg.ice) {
      try {
        if (isOffer) answerIce = await ice.onRemoteOffer(msg.ice);
        else await ice.onRemoteAnswer(msg.ice);
      } catch (err) {
        this.#counters.badMessages++;
        this.#log.debug('ice-offer-rejected', { error: toError(err) });
      }
      for (const c of msg.candidates ?? []) await this.#applyCandidate(c);
    }
    this.#relayOnOffer();
    if (isOffer) this.#sendOfferOrAnswer('answer', answerIce);
    // A new remote session means the remote restarted negotiation: restart our ladder with it —
    // but only while no path carries traffic. On a working relay, ICE attempts failing on both sides
    // rotate sessions every connect timeout; resetting the ladder each time would defeat its cap.
    if (sessionChanged && !this.#fullyConnected() && this.#active === null) this.#guard.kick();
  }

  /** `ice`: what the ICE worker answered to the offer (carries `inReplyTo`); else our current session. */
  #sendOfferOrAnswer(type: 'offer' | 'answer', ice?: IceOfferPart): void {
    const worker = this.#ice;
    const home = this.#o.relay?.homeInstanceUrl;
    this.#dropStaleMark();
    const unreachable = this.#unreachable?.url;
    const msg: OfferMessage = {
      type,
      version: SIGNAL_PROTOCOL_VERSION,
      caps: [...LOCAL_CAPABILITIES],
      ice: ice ?? (worker && !worker.closed ? worker.localOffer() : null),
      relay: home ? { url: home, ...(unreachable ? { unreachable } : {}) } : null,
    };
    if (msg.ice && this.#localCandidates.sessionId === msg.ice.sessionId && this.#localCandidates.list.length > 0) {
      msg.candidates = [...this.#localCandidates.list];
    }
    if (type === 'offer') this.#counters.offersSent++;
    else this.#counters.answersSent++;
    this.#send(msg);
  }

  // ---------------------------------------------------------------------------------------------
  // Guard

  /** Both ways up: ICE (when both sides have it) and the relay (when both sides have one). */
  #fullyConnected(): boolean {
    const iceWanted = this.#ice !== null && this.#remoteCaps.includes('ice');
    const relayWanted = this.#o.relay !== null && this.#relayServer() !== null;
    const iceUp = this.#iceSlot !== null && !this.#iceSlot.dead && this.#iceSlot.alive !== false;
    // Up on a server we no longer meet on (the meeting server moved) is not up.
    const relayUp =
      this.#relaySlot !== null &&
      !this.#relaySlot.dead &&
      this.#relaySlot.alive !== false &&
      this.#relay.server === this.#relayServer();
    if (this.#remoteCaps.length === 0) return false;
    return (!iceWanted || iceUp) && (!relayWanted || relayUp) && this.#active !== null;
  }

  #onGuardTick(): void {
    if (this.#fullyConnected()) {
      this.#guard.settle();
      return;
    }
    this.#sendOfferOrAnswer('offer');
    this.#guard.again();
  }

  // ---------------------------------------------------------------------------------------------
  // Relay worker

  /**
   * The server both sides meet on: the controller's home relay, unless the follower says it cannot
   * reach it (and has a home of its own), or the controller has no home (its relay is down): then
   * the follower's home, which the controller dials as a foreign relay. Each side decides from the
   * other's latest offer or answer (which carries its home, or none, and repeats the mark). Peers
   * without `relay-fallback` only ever meet on the controller's home.
   */
  #relayServer(): string | null {
    const relay = this.#o.relay;
    if (!relay) return null;
    const home = relay.homeInstanceUrl ?? null;
    const remote = this.#remoteRelayUrl;
    const fallback = this.#remoteCaps.includes('relay-fallback');
    if (this.controller) {
      if (home === null) return fallback ? remote : null;
      return remote !== null && this.#remoteUnreachable === home ? remote : home;
    }
    if (remote === null) return fallback ? home : null;
    return this.#fallbackActive() ? home : remote;
  }

  /** Follower: our mark applies to the controller's current home and we can offer ours instead. */
  #fallbackActive(): boolean {
    const home = this.#o.relay?.homeInstanceUrl;
    const mark = this.#unreachable;
    return (
      mark !== null &&
      home !== undefined &&
      mark.url === this.#remoteRelayUrl &&
      mark.url !== home &&
      this.#remoteCaps.includes('relay-fallback')
    );
  }

  /** Forgets a mark that no longer describes the controller's home (it moved, or became ours). */
  #dropStaleMark(): void {
    const mark = this.#unreachable;
    if (!mark) return;
    const remote = this.#remoteRelayUrl;
    if ((remote !== null && remote !== mark.url) || mark.url === this.#o.relay?.homeInstanceUrl) {
      this.#clearMark('home-moved');
    }
  }

  #clearMark(reason: string): void {
    const mark = this.#unreachable;
    if (!mark) return;
    mark.timer?.cancel();
    this.#unreachable = null;
    this.#log.info('relay-unreachable-cleared', { server: mark.url, reason });
  }

  #relayOnOffer(): void {
    const relay = this.#o.relay;
    this.#dropStaleMark();
    const server = this.#relayServer();
    if (!relay || !server) return;
    const opening = this.#relay.opening;
    if (opening === server) return;
    if (opening !== null) {
      // The meeting server moved while an open to the old one still waits (e.g. for the remote to
      // come online there): abandon it, or it would hold us up to the open timeout.
      this.#relay.gen++;
      this.#relay.opening = null;
      void relay.closeConnByPeerKey(opening, this.remoteKey).catch(() => {});
    }
    if (this.#relaySlot && this.#relay.server !== server) {
      // The meeting server moved (F-R-12): the old entry is useless.
      this.#closeRelay('server-moved');
    }
    this.#openRelay(server, false);
  }

  #openRelay(server: string, isReopen: boolean): void {
    const relay = this.#o.relay!;
    const gen = ++this.#relay.gen;
    this.#relay.opening = server;
    relay.openConn(server, this.remoteKey).then(
      (conn) => this.#run('relay-opened', () => this.#onRelayOpened(gen, server, conn, isReopen)),
      (err: unknown) =>
        this.#run('relay-open-failed', () => this.#onRelayOpenFailed(gen, server, toError(err), isReopen)),
    );
  }

  #onRelayOpened(gen: number, server: string, conn: DatagramPath, isReopen: boolean): void {
    if (gen !== this.#relay.gen) {
      conn.close();
      return;
    }
    this.#relay.opening = null;
    if (this.#relaySlot && this.#relaySlot.path !== conn) this.#detach(this.#relaySlot);
    this.#relay.server = server;
    this.#relay.stale = false;
    this.#counters.relayOpens++;
    if (isReopen) this.#counters.relayReopens++;
    this.#relaySlot = { path: conn, kind: 'relay', alive: null, dead: false, reopened: isReopen, everAlive: false };
    this.#o.endpoint.attach(conn);
    this.#log.info('relay-opened', { server, reopen: isReopen });
    this.#select('relay-opened');
  }

  async #onRelayOpenFailed(gen: number, server: string, err: Error, isReopen: boolean): Promise<void> {
    if (gen !== this.#relay.gen) return;
    this.#relay.opening = null;
    if (!hasCode(err, 'ERR_CONN_ALREADY_EXISTS')) {
      this.#log.info('relay-open-failed', { server, error: err });
      if (isUnreachable(err)) this.#markUnreachable(server);
      return;
    }
    // An entry exists. Replace it only on evidence that it is dead (NetBird PR #5866): our stale
    // flag, or an entry we do not hold (nobody reads it, so nothing healthy can be torn down).
    const orphan = this.#relaySlot === null || this.#relay.server !== server;
    const replace =
      this.#policy === 'always-reopen' || (this.#policy === 'stale-flag' && (this.#relay.stale || orphan));
    if (!replace || isReopen) {
      this.#log.debug('relay-exists-kept', { server, stale: this.#relay.stale, policy: this.#policy });
      return;
    }
    this.#relay.stale = false;
    this.#closeRelay('replace-stale');
    this.#relay.server = server;
    await this.#o.relay!.closeConnByPeerKey(server, this.remoteKey);
    if (this.#state !== 'running') return;
    this.#openRelay(server, true);
  }

  /**
   * Follower: the controller's home relay could not be reached. Remember it, meet on our home
   * instead and tell the controller at once (the mark rides on every offer and answer). Only with
   * a controller that understands the mark: an older one would keep waiting on its home.
   */
  #markUnreachable(server: string): void {
    const home = this.#o.relay?.homeInstanceUrl;
    if (
      this.controller ||
      this.#unreachable !== null ||
      server !== this.#remoteRelayUrl ||
      home === undefined ||
      server === home ||
      !this.#remoteCaps.includes('relay-fallback')
    ) {
      return;
    }
    this.#unreachable = { url: server, timer: undefined };
    this.#armProbe();
    this.#log.info('relay-unreachable-marked', { server, fallback: home, ttlMs: this.#unreachableTtlMs });
    this.#meetingMoved();
  }

  /**
   * Our side of the meeting rule changed: move, and tell the remote now. A guard kick is not enough:
   * a fresh conn counts as up, so the tick could settle before the remote ever heard of the move.
   */
  #meetingMoved(): void {
    this.#relayOnOffer();
    this.#sendOfferOrAnswer('offer');
    this.#guard.again();
  }

  #armProbe(): void {
    const mark = this.#unreachable!;
    mark.timer = this.#clock.setTimeout(() => {
      mark.timer = undefined;
      this.#run('relay-probe', () => this.#probeUnreachable(mark));
    }, this.#unreachableTtlMs);
  }

  /**
   * The mark expired: dial the preferred server on the side, without leaving the fallback. Only a
   * success moves both sides back (one tear-down each); a failure keeps everything as it is for
   * another TTL, so an unreachable preferred server costs one dial per TTL and no offers.
   */
  #probeUnreachable(mark: { url: string }): void {
    const relay = this.#o.relay;
    if (this.#unreachable !== mark || !relay) return;
    if (!this.#fallbackActive()) {
      // We are not avoiding it at the moment anyway (no home of our own, …): the normal opens try it.
      this.#clearMark('expired');
      return;
    }
    this.#log.info('relay-probe', { server: mark.url });
    relay.openConn(mark.url, this.remoteKey).then(
      (conn) => {
        conn.close();
        this.#run('relay-probe-ok', () => {
          if (this.#unreachable !== mark) return;
          this.#clearMark('probe-ok');
          this.#meetingMoved();
        });
      },
      (err: unknown) =>
        this.#run('relay-probe-failed', () => {
          if (this.#unreachable !== mark) return;
          const error = toError(err);
          if (isUnreachable(error)) {
            this.#log.info('relay-probe-failed', { server: mark.url, error });
            this.#armProbe();
            return;
          }
          // Reachable, something else went wrong (e.g. the controller is not there): let the normal
          // opens find out; a dial failure there marks it again.
          this.#clearMark('probe-inconclusive');
          this.#meetingMoved();
        }),
    );
  }

  /** Detaches and closes our relay conn; counts a tear-down. */
  #closeRelay(reason: string): void {
    const slot = this.#relaySlot;
    this.#relay.gen++;
    this.#relay.opening = null;
    this.#counters.relayTeardowns++;
    this.#log.info('relay-closed', { reason, server: this.#relay.server });
    if (slot) {
      this.#detach(slot);
      slot.path.close();
    }
    this.#relaySlot = null;
    this.#select(`relay-${reason}`);
  }

  #markStale(reason: string): void {
    if (this.#relay.stale) return;
    this.#relay.stale = true;
    this.#relay.staleReason = reason;
    this.#log.info('stale-marked', { reason, server: this.#relay.server });
    this.emit('stale-marked', { reason, server: this.#relay.server });
    this.#guard.kick();
  }

  // ---------------------------------------------------------------------------------------------
  // ICE worker

  #onIceUp(info: IceConnectedInfo): void {
    if (this.#iceSlot && this.#iceSlot.path !== info.path) this.#detach(this.#iceSlot);
    this.#counters.iceSessions++;
    this.#iceSlot = {
      path: info.path,
      kind: info.pair.kind,
      alive: null,
      dead: false,
      reopened: false,
      everAlive: false,
    };
    this.#o.endpoint.attach(info.path);
    this.#turnUpgradeTimer?.cancel();
    if (info.pair.kind === 'ice-direct') this.#turnUpgrade.reset();
    else if (this.controller) this.#scheduleTurnUpgrade();
    this.#log.info('ice-connected', {
      kind: info.pair.kind,
      session: info.sessionId,
      local: info.pair.local,
      remote: info.pair.remote,
    });
    this.#select('ice-connected');
  }

  #scheduleTurnUpgrade(): void {
    this.#turnUpgradeTimer?.cancel();
    this.#turnUpgradeTimer = this.#clock.setTimeout(
      () => this.#run('turn-upgrade', () => this.#tryTurnUpgrade()),
      this.#turnUpgrade.next(),
    );
  }

  /**
   * A TURN pair often wins only because it was negotiated while UDP was blocked; once UDP is back a
   * new session finds the direct pair. Try only with a live relay standby to carry traffic
   * meanwhile, and back off (to 10 min) while attempts keep ending on TURN (symmetric NATs).
   */
  #tryTurnUpgrade(): void {
    const ice = this.#iceSlot;
    if (ice?.kind !== 'ice-turn') return;
    const relay = this.#relaySlot;
    if (!relay || relay.dead || relay.alive !== true) {
      this.#scheduleTurnUpgrade();
      return;
    }
    this.#log.info('ice-upgrade-attempt', { attempt: this.#turnUpgrade.attempt });
    this.#iceDead(ice, 'upgrade');
    this.#select('ice-upgrade');
    this.#guard.kick();
  }

  #onIceDown(info: IceDisconnectedInfo): void {
    const slot = this.#iceSlot;
    if (slot && (slot.path as { sessionId?: string }).sessionId === info.sessionId) {
      this.#detach(slot);
      this.#iceSlot = null;
      this.#select(`ice-${info.reason}`);
    }
    if (info.wasConnected) this.#guard.kick();
  }

  // ---------------------------------------------------------------------------------------------
  // Liveness verdicts

  #slotOf(path: DatagramPath): Slot | null {
    if (this.#iceSlot?.path === path) return this.#iceSlot;
    if (this.#relaySlot?.path === path) return this.#relaySlot;
    return null;
  }

  #onVerdict(path: DatagramPath, alive: boolean): void {
    const slot = this.#slotOf(path);
    if (!slot) return;
    const was = slot.alive;
    slot.alive = alive;
    if (alive) {
      slot.everAlive = true;
      if (slot === this.#relaySlot && this.#relay.stale && this.#relay.staleReason === 'silent') {
        // A blip, not a dead entry: keep it rather than replace it on the next offer.
        this.#relay.stale = false;
        this.#log.info('stale-cleared', { server: this.#relay.server });
      }
      this.#select('path-alive');
      this.#maybeRecovered();
      return;
    }
    if (was === false) return;
    if (slot !== this.#active && !this.#o.endpoint.pathStatus(path)?.probeCapable) {
      // Without probes a standby carries no traffic at all, so its silence proves nothing.
      slot.alive = null;
      return;
    }
    this.#log.info('path-silent', { kind: slot.kind, active: slot === this.#active });
    // A probe verdict is end-to-end evidence: a silent relay entry is dead whether it is active or
    // a standby (a dead standby would otherwise linger until it is needed: NetBird F-R-5).
    if (slot.kind === 'relay') {
      this.#markStale('silent');
      // A fresh entry that never carried a byte: the server has forgotten our session while the
      // socket looks healthy, and no entry on it can work. Only a new login helps.
      if (slot.reopened && !slot.everAlive && this.#relay.server) {
        this.#o.relay?.reconnect(this.#relay.server, 'reopened-conn-silent');
      }
    } else this.#iceDead(slot, 'silent');
    this.#select('path-silent');
    this.#guard.kick();
  }

  #onHandshakeTimeout(info: HandshakeTimeoutInfo): void {
    const slot = this.#active;
    this.#log.info('handshake-timeout', { reason: info.reason, active: slot?.kind ?? 'none' });
    if (slot) {
      slot.dead = true;
      if (slot.kind === 'relay') this.#markStale('handshake-timeout');
      else this.#iceDead(slot, 'handshake-timeout');
      this.#select('handshake-timeout');
    }
    // Re-arm: the next path gets a fresh first-handshake window.
    void this.#watcher?.reset().catch(() => {});
    // With no path at all the verdict repeats every window and says nothing new: a running ladder
    // keeps its pace (a kick per window would mean ~7 offers per window per side, forever).
    if (slot || !this.#guard.armed) this.#guard.kick();
  }

  /** The ICE session behind `slot` is dead: rotate so the next offer builds fresh agents on both sides. */
  #iceDead(slot: Slot, cause: string): void {
    this.#log.info('ice-dead', { cause, kind: slot.kind });
    this.#detach(slot);
    if (this.#iceSlot === slot) this.#iceSlot = null;
    this.#ice?.resetSessionId();
  }

  #onPathClosed(path: DatagramPath, reason: string): void {
    const slot = this.#slotOf(path);
    if (!slot) return;
    if (slot === this.#relaySlot) {
      this.#relaySlot = null;
      this.#markStale(`closed:${reason}`);
    } else if (slot === this.#iceSlot) {
      this.#iceSlot = null;
    }
    this.#select(`${slot.kind}-closed`);
    this.#guard.kick();
  }

  /** Stops the endpoint using the path; #select then picks a successor (and sees the outage). */
  #detach(slot: Slot): void {
    this.#o.endpoint.detach(slot.path);
  }

  // ---------------------------------------------------------------------------------------------
  // Path selection and recovery

  /** Makes the best usable path active. Usable: attached, not judged dead, not silent. */
  #select(reason: string): void {
    const usable = [this.#iceSlot, this.#relaySlot].filter(
      (s): s is Slot => s !== null && !s.dead && s.alive !== false && !s.path.closed,
    );
    usable.sort((a, b) => PATH_PRIORITY[b.kind] - PATH_PRIORITY[a.kind]);
    const best = usable[0] ?? null;
    const prev = this.#active;
    if (best === prev) return;
    if (prev && !usable.includes(prev) && this.#outageSince === null) {
      // The active path died: traffic stopped when it last delivered anything, not when we noticed.
      this.#outageSince = prev.path.counters.lastRxAt || this.#clock.now();
    }
    this.#active = best;
    this.#o.endpoint.setActive(best?.path ?? null);
    const info = { from: prev?.kind ?? 'none', to: best?.kind ?? 'none', reason } as const;
    this.#log.info('path-changed', info);
    this.emit('path-changed', info);
    this.#maybeRecovered();
  }

  #maybeRecovered(): void {
    const slot = this.#active;
    if (this.#outageSince === null || !slot || slot.alive !== true) return;
    const outageMs = Math.max(0, this.#clock.now() - this.#outageSince);
    this.#outageSince = null;
    this.#counters.recoveries++;
    this.#log.info('recovered', { outageMs, path: slot.kind });
    this.emit('recovered', { outageMs, path: slot.kind });
  }
}

/**
 * Errors that say the relay server itself could not be reached or lost us: a failed dial (refused,
 * reset, timed out, rejected) or the connection dying while opening. Not: an existing entry, the
 * remote not being online there, our own close or stop.
 */
function isUnreachable(err: Error): boolean {
  return hasCode(err, 'ERR_RELAY_DIAL_FAILED') || hasCode(err, 'ERR_RELAY_DISCONNECTED');
}
