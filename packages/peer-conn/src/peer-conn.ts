import {
  Backoff,
  type Clock,
  type Logger,
  type PeerKey,
  Subscriptions,
  silentLogger,
  systemClock,
  TypedEmitter,
  toError,
} from '@mesh/core';
import { HandshakeWatcher } from '@mesh/wg-control';
import PQueue from 'p-queue';
import {
  PERSISTENT_KEEPALIVE_SEC,
  RELAY_UNREACHABLE_TTL_MS,
  TURN_UPGRADE_INITIAL_MS,
  TURN_UPGRADE_JITTER,
  TURN_UPGRADE_MAX_MS,
} from './constants.js';
import { Guard } from './guard.js';
import type { SignalMessage } from './messages.js';
import { type Components, RELAY_EXISTS_POLICY, type TestHooks } from './parts/components.js';
import { Handshaker } from './parts/handshaker.js';
import { IceDriver } from './parts/ice-driver.js';
import { Liveness } from './parts/liveness.js';
import { Meeting } from './parts/meeting.js';
import { networkReaction } from './parts/network.js';
import { PathTable } from './parts/path-table.js';
import { PathQuality } from './parts/quality.js';
import { RelayWorker } from './parts/relay-worker.js';
import { RemoteView } from './parts/remote-view.js';
import { wire } from './parts/wiring.js';
import {
  type HostNetworkChange,
  newCounters,
  type PathKind,
  type PeerConnCounters,
  type PeerConnEvents,
  type PeerConnOptions,
  type PeerConnStatus,
} from './types.js';

/**
 * One remote peer's WireGuard connection. WireGuard is configured once with the PeerEndpoint's
 * local address; PeerConn brings up the relay and ICE paths, keeps the best live one active, and
 * repairs whatever dies: a relay entry judged dead is marked stale and replaced on the next offer,
 * an ICE session judged dead is rotated. A facade over its parts (see docs/architecture.md):
 * lifecycle, the one serial queue every part runs in, the subscription table, and status.
 */
export class PeerConn extends TypedEmitter<PeerConnEvents> {
  /** Our WireGuard public key. */
  readonly localKey: PeerKey;
  /** The remote peer's WireGuard public key. */
  readonly remoteKey: PeerKey;
  /** Whether this side controls the pair (its key sorts higher): it decides where the two meet. */
  readonly controller: boolean;
  readonly #o: PeerConnOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #queue = new PQueue({ concurrency: 1 });
  readonly #subs = new Subscriptions();
  readonly #counters: PeerConnCounters = newCounters();
  readonly #guard: Guard;
  // ---- Parts: each is called only from inside the queue and owns its fields and timers. ----
  readonly #remote = new RemoteView();
  readonly #paths: PathTable;
  readonly #meeting: Meeting;
  readonly #relay: RelayWorker;
  readonly #ice: IceDriver;
  readonly #liveness: Liveness;
  readonly #quality: PathQuality;
  readonly #handshaker: Handshaker;
  // -------------------------------------------------------------------------------------------
  #state: 'new' | 'running' | 'stopped' = 'new';
  #watcher: HandshakeWatcher | null = null;

  constructor(options: PeerConnOptions) {
    super();
    this.#o = options;
    this.localKey = options.localKey;
    this.remoteKey = options.remoteKey;
    this.controller = options.localKey.isControllerFor(options.remoteKey);
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? silentLogger).child({ peer: options.remoteKey.toShortString() });
    this.#guard = new Guard({
      clock: this.#clock,
      ...options.guard,
      onTick: () => this.#run('guard-tick', () => this.#onGuardTick()),
    });
    const c = this.#components();
    this.#paths = new PathTable(c, { iceDemoted: () => this.#quality.gate.demoted });
    this.#quality = new PathQuality(c, { paths: this.#paths });
    this.#meeting = new Meeting(
      c,
      this.#remote,
      { moved: () => this.#meetingMoved(), probe: (url) => this.#relay.probe(url) },
      options.relayUnreachableTtlMs ?? RELAY_UNREACHABLE_TTL_MS,
    );
    const policy = (options as TestHooks)[RELAY_EXISTS_POLICY] ?? 'stale-flag';
    this.#relay = new RelayWorker(c, { paths: this.#paths, meeting: this.#meeting, policy });
    const turnUpgrade = new Backoff({
      initial: options.turnUpgrade?.initialMs ?? TURN_UPGRADE_INITIAL_MS,
      max: options.turnUpgrade?.maxMs ?? TURN_UPGRADE_MAX_MS,
      jitter: TURN_UPGRADE_JITTER,
    });
    this.#ice = new IceDriver(c, { paths: this.#paths, turnUpgrade });
    this.#liveness = new Liveness(c, {
      paths: this.#paths,
      relay: this.#relay,
      ice: this.#ice,
      watcher: () => this.#watcher,
    });
    this.#handshaker = new Handshaker(c, {
      remote: this.#remote,
      ice: this.#ice,
      relay: this.#relay,
      meeting: this.#meeting,
      send: (m) => this.#send(m),
      hasActivePath: () => this.#paths.active !== null,
    });
  }

  /** A copy of the signaling, relay and ICE counters. */
  get counters(): Readonly<PeerConnCounters> {
    return { ...this.#counters };
  }

  /** The kind of path WireGuard's packets go over now. */
  get activePath(): PathKind {
    return this.#paths.activeKind;
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
    const watcher = new HandshakeWatcher({
      device: o.device,
      peer: this.remoteKey,
      clock: this.#clock,
      logger: this.#log,
      ...o.watcher,
    });
    this.#watcher = watcher;
    // Baseline first, then the endpoint: a handshake left over from an earlier life does not count.
    await watcher.start();
    if (this.#state !== 'running') return;
    await o.device.upsertPeer({
      publicKey: this.remoteKey,
      endpoint: `${address.host}:${address.port}`,
      allowedIps: o.allowedIps,
      replaceAllowedIps: true,
      persistentKeepalive: o.persistentKeepaliveSec ?? PERSISTENT_KEEPALIVE_SEC,
    });
    if (this.#state !== 'running') return;
    const ice = o.iceWorkerFactory?.() ?? null;
    this.#ice.start(ice);
    const kick = () => this.#guard.kick();
    const sources = { signaler: o.signaler, endpoint: o.endpoint, watcher, relay: o.relay, ice };
    wire(this.#subs, this.#components(), sources, {
      ...{ handshaker: this.#handshaker, liveness: this.#liveness, quality: this.#quality, paths: this.#paths },
      ...{ relay: this.#relay, ice: this.#ice, kick },
      onSignalConnected: () => {
        if (!this.#fullyConnected()) kick();
      },
      onHomeChanged: () => {
        this.#meeting.dropOutdatedMark();
        kick();
      },
    });
    this.#log.info('peer-started', { controller: this.controller, endpoint: address.port });
    kick();
  }

  /**
   * Removes the WireGuard peer, closes every path (and any relay open still in flight) and leaves
   * no timer. Idempotent; nothing is emitted afterwards.
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    const wasRunning = this.#state === 'running';
    this.#state = 'stopped';
    this.#guard.stop();
    this.#meeting.stop();
    this.#subs.clear();
    this.#queue.clear();
    await this.#queue.onIdle();
    this.#watcher?.stop();
    this.#o.endpoint.stop();
    const closing: Promise<unknown>[] = [this.#ice.stop(), this.#relay.stop()];
    this.#paths.clear();
    if (wasRunning) closing.push(this.#o.device.removePeer(this.remoteKey).catch(() => {}));
    await Promise.all(closing);
    this.removeAllListeners();
    this.#log.info('peer-stopped');
  }

  /** Sends an offer now (outside the guard's ladder). For tests and operators; harmless when healthy. */
  sendOffer(): Promise<void> {
    return this.#run('forced-offer', () => this.#handshaker.send('offer'));
  }

  /**
   * Tells the PeerConn the host's network changed (from the agent's network monitor). Offline: the
   * offer ladder parks. Back online, an address gone or the default route moved: the ICE session
   * is rotated (fresh gathering) and the ladder restarts at once. Only an address added: ICE is
   * rotated unless it is already direct (a new interface may offer a better path).
   */
  networkChanged(change: HostNetworkChange): Promise<void> {
    return this.#run('network-changed', () => {
      const r = networkReaction(change, { parked: this.#guard.parked, active: this.#paths.activeKind });
      this.#log.info('network-changed', { ...change, ...r });
      if (r.park) this.#guard.park();
      else this.#guard.unpark();
      if (r.rotateIce) {
        this.#ice.rotateForNetwork();
        this.#paths.select('network-change');
      }
      if (r.kick) this.#guard.kick();
    });
  }

  /** A snapshot for status output: paths, relay, ICE session, the device's view of the peer, counters. */
  async status(): Promise<PeerConnStatus> {
    let peer = null;
    try {
      peer = this.#state === 'running' ? await this.#o.device.getPeer(this.remoteKey) : null;
    } catch {}
    const ice = this.#ice.worker;
    const marked = this.#meeting.markedUrl;
    return {
      remoteKey: this.remoteKey.base64,
      controller: this.controller,
      active: this.activePath,
      standby: this.#paths.standby(),
      relay: {
        server: this.#relay.server,
        stale: this.#relay.stale,
        open: this.#paths.relay !== null,
        ...(marked ? { unreachable: marked } : {}),
      },
      ice: {
        localSessionId: this.#ice.offering?.sessionId ?? null,
        remoteSessionId: ice?.remoteSessionId ?? null,
        connecting: ice?.connecting ?? false,
        kind: this.#paths.ice?.kind ?? null,
      },
      carrying: this.#paths.active?.carrying ?? false,
      loss: { ice: this.#paths.ice?.lossPct ?? null, relay: this.#paths.relay?.lossPct ?? null },
      iceDemoted: this.#quality.gate.demoted,
      offline: this.#guard.parked,
      lastHandshakeAt: peer?.lastHandshakeAt ?? 0,
      rxBytes: peer?.rxBytes ?? 0,
      txBytes: peer?.txBytes ?? 0,
      counters: { ...this.#counters },
    };
  }

  // ---------------------------------------------------------------------------------------------

  /** The components every part is built from; `run` and `emit` go through this PeerConn. */
  #components(): Components {
    const self = this;
    return {
      remoteKey: this.remoteKey,
      controller: this.controller,
      clock: this.#clock,
      log: this.#log,
      counters: this.#counters,
      endpoint: this.#o.endpoint,
      relay: this.#o.relay,
      guard: this.#guard,
      run: (name, task) => this.#run(name, task),
      emit: (event, ...args) => {
        if (this.#state === 'running') this.emit(event, ...args);
      },
      get running() {
        return self.#state === 'running';
      },
    };
  }

  /** Runs `task` in the per-peer serial queue; nothing runs after stop, and nothing throws out. */
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

  #send(message: SignalMessage): void {
    this.#o.signaler.send(this.remoteKey, message).catch((err: unknown) => {
      this.#log.debug('signal-send-failed', { type: message.type, error: toError(err) });
    });
  }

  /**
   * Our side of the meeting rule changed: move, and tell the remote now. A guard kick is not enough:
   * a fresh conn counts as up, so the tick could settle before the remote ever heard of the move.
   */
  #meetingMoved(): void {
    this.#relay.onOffer();
    this.#handshaker.send('offer');
    this.#guard.again();
  }

  /** Both ways up: ICE (when both sides have it) and the relay (when both sides have one). */
  #fullyConnected(): boolean {
    if (!this.#remote.heard) return false;
    const iceWanted = this.#ice.worker !== null && this.#remote.has('ice');
    const relayWanted = this.#o.relay !== null && this.#meeting.server() !== null;
    const ice = this.#paths.ice;
    const iceUp = ice !== null && !ice.dead && ice.alive !== false;
    return (!iceWanted || iceUp) && (!relayWanted || this.#relay.upOnMeetingServer) && this.#paths.active !== null;
  }

  #onGuardTick(): void {
    if (this.#fullyConnected()) {
      this.#guard.settle();
      return;
    }
    this.#handshaker.send('offer');
    this.#guard.again();
  }
}
