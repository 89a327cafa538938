import { abortReason, type Clock, ClosedError, raceAbort, systemClock, type Timer, TypedEmitter } from '@mesh/core';
import type {
  CandidateAddress,
  IceAgent,
  IceAgentConfig,
  IceAgentEvents,
  IceAgentFactory,
  IceAgentState,
  SelectedPair,
} from '../agent.js';
import { ConsentKeeper } from '../consent.js';
import { IceAgentError, type IceCredentials } from '../wire.js';

/** Options of a FakeIceNetwork. */
export interface FakeIceNetworkOptions {
  /** Clock for the delays; `systemClock` by default. */
  clock?: Clock;
  /** Time from both sides connecting (with each other's candidates) to `connected`. Default 20 ms. */
  connectDelayMs?: number;
  /** Time from gather() to the host candidate. Default 0 (next clock tick). */
  gatherDelayMs?: number;
  /** Time close() takes to resolve. Default 0. */
  closeDelayMs?: number;
}

/**
 * In-memory ICE for unit tests: agents find each other by credentials, "connect" when both are
 * connecting with each other's credentials and at least one of each other's candidates, after
 * `connectDelayMs` on the injected clock. Unlike WeriftIceAgent, a closed FakeIceAgent keeps its
 * listeners, and `inject*` emit even after close: that is how tests model late library events.
 */
export class FakeIceNetwork {
  /** Clock for the delays. */
  readonly clock: Clock;
  /** Time from both sides connecting to `connected`. */
  readonly connectDelayMs: number;
  /** Time from gather() to the host candidate. */
  readonly gatherDelayMs: number;
  /** Time close() takes to resolve. */
  readonly closeDelayMs: number;
  /** Every agent ever built, in order. */
  readonly agents: FakeIceAgent[] = [];
  /** False while setReachable(false) cuts delivery and connectivity. */
  reachable = true;
  /** Candidate type both ends of the next nominated pairs report: `relay` makes an `ice-turn` path. */
  pairType: 'host' | 'relay' = 'host';
  /** Decides, for each datagram an agent sends, that it is silently lost (random or patterned loss). */
  lose: ((datagram: Uint8Array) => boolean) | null = null;
  #nextHost = 1;

  constructor(options: FakeIceNetworkOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.connectDelayMs = options.connectDelayMs ?? 20;
    this.gatherDelayMs = options.gatherDelayMs ?? 0;
    this.closeDelayMs = options.closeDelayMs ?? 0;
  }

  /** An IceAgentFactory building agents on this network. */
  readonly factory: IceAgentFactory = (config) => {
    const agent = new FakeIceAgent(this, config, `10.99.0.${this.#nextHost++}`);
    this.agents.push(agent);
    return agent;
  };

  /** Agents not yet closed. */
  live(): FakeIceAgent[] {
    return this.agents.filter((a) => a.state !== 'closed');
  }

  /** Cuts (false) or restores (true) delivery and connectivity between all agents. */
  setReachable(reachable: boolean): void {
    this.reachable = reachable;
    if (reachable) for (const a of this.agents) a.tryConnect();
  }

  /** The live agent using `ufrag` as its local ufrag. */
  byUfrag(ufrag: string): FakeIceAgent | undefined {
    return this.agents.find((a) => a.credentials.ufrag === ufrag && a.state !== 'closed');
  }
}

/** An in-memory IceAgent built by a FakeIceNetwork; records what the worker asked of it. */
export class FakeIceAgent extends TypedEmitter<IceAgentEvents> implements IceAgent {
  /** Our credentials for this session. */
  readonly credentials: IceCredentials;
  /** The config the factory was called with. */
  readonly config: IceAgentConfig;
  /** The fake host address of its single host candidate. */
  readonly host: string;
  /** The port of its single host candidate. */
  readonly port = 40000;
  /** The remote credentials set, if any. */
  remoteCredentials: IceCredentials | undefined;
  /** Every remote candidate added, in order. */
  readonly remoteCandidates: string[] = [];
  /** How many times close() was called. */
  closeCalls = 0;
  #state: IceAgentState = 'new';
  #gathered = false;
  #timers: Timer[] = [];
  #connectWaiter: { resolve: (p: SelectedPair) => void; reject: (e: Error) => void } | undefined;
  #pair: SelectedPair | undefined;
  #paired = false;
  #peer: FakeIceAgent | undefined;
  readonly #net: FakeIceNetwork;
  readonly #consent: ConsentKeeper;
  /** How many times consentEvidence() was called while connected. */
  consentAnswers = 0;

  constructor(net: FakeIceNetwork, config: IceAgentConfig, host: string) {
    super();
    this.#net = net;
    this.config = config;
    this.credentials = config.credentials;
    this.host = host;
    this.#consent = new ConsentKeeper({
      clock: net.clock,
      log: config.logger,
      onExpired: () => this.#setState('failed'),
    });
  }

  /** Current state. */
  get state(): IceAgentState {
    return this.#state;
  }

  /** Its host candidate (SDP candidate attribute body). */
  get candidate(): string {
    return `candidate:1 1 udp 2130706431 ${this.host} ${this.port} typ host`;
  }

  gather(): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new ClosedError('agent closed'));
    if (this.#gathered) return Promise.resolve();
    this.#gathered = true;
    return new Promise((resolve) => {
      this.#timers.push(
        this.#net.clock.setTimeout(() => {
          if (this.#state === 'closed') return resolve();
          const info: CandidateAddress = { type: 'host', address: this.host, port: this.port };
          if (!this.config.excluded.excludes(this.host)) this.emit('candidate', this.candidate, info);
          resolve();
        }, this.#net.gatherDelayMs),
      );
    });
  }

  setRemoteCredentials(credentials: IceCredentials): void {
    this.remoteCredentials = credentials;
    this.tryConnect();
  }

  async addRemoteCandidate(candidate: string): Promise<boolean> {
    if (this.#state === 'closed') return false;
    const m = /^candidate:\S+ 1 udp \d+ (\S+) (\d+) typ (host|srflx|prflx|relay)/.exec(candidate);
    if (!m || this.config.excluded.excludes(m[1])) return false;
    this.remoteCandidates.push(candidate);
    this.tryConnect();
    return true;
  }

  connect(options: { signal?: AbortSignal } = {}): Promise<SelectedPair> {
    if (this.#state === 'closed') return Promise.reject(new ClosedError('agent closed'));
    if (!this.#gathered) return Promise.reject(new IceAgentError('connect() before gather()'));
    if (options.signal?.aborted) return Promise.reject(abortReason(options.signal));
    this.#setState('connecting');
    const done = new Promise<SelectedPair>((resolve, reject) => {
      this.#connectWaiter = { resolve, reject };
    });
    this.tryConnect();
    return options.signal ? raceAbort(done, options.signal) : done;
  }

  /** Pairs up with the agent holding our remote credentials once both are ready. */
  tryConnect(): void {
    if (this.#state !== 'connecting' || this.#paired || !this.remoteCredentials || !this.#net.reachable) return;
    const peer = this.#net.byUfrag(this.remoteCredentials.ufrag);
    const mutual =
      peer?.state === 'connecting' &&
      peer.remoteCredentials?.ufrag === this.credentials.ufrag &&
      peer.remoteCredentials.pwd === this.credentials.pwd &&
      this.remoteCredentials.pwd === peer.credentials.pwd;
    if (!mutual) return;
    const knows = (a: FakeIceAgent, b: FakeIceAgent) => a.remoteCandidates.some((c) => c.includes(` ${b.host} `));
    if (!knows(this, peer) || !knows(peer, this)) return;
    const b = peer;
    this.#paired = true;
    b.#paired = true;
    const timer = this.#net.clock.setTimeout(() => {
      this.#nominate(b);
      b.#nominate(this);
    }, this.#net.connectDelayMs);
    this.#timers.push(timer);
    b.#timers.push(timer);
  }

  #nominate(peer: FakeIceAgent): void {
    if (this.#state === 'closed') return;
    this.#peer = peer;
    const type = this.#net.pairType;
    this.#pair = {
      local: { type, address: this.host, port: this.port },
      remote: { type, address: peer.host, port: peer.port },
      rttMs: 1,
    };
    this.#consent.answered();
    this.#setState('connected');
    this.#connectWaiter?.resolve(this.#pair);
    this.#connectWaiter = undefined;
  }

  send(datagram: Uint8Array): boolean {
    if (this.#state !== 'connected') return false;
    const peer = this.#peer;
    if (!peer || !this.#net.reachable || this.#net.lose?.(datagram)) return true;
    const copy = Buffer.from(datagram);
    setImmediate(() => {
      if (peer.#state === 'connected' && peer.#peer === this) peer.emit('data', copy);
    });
    return true;
  }

  consentEvidence(): void {
    if (this.#state !== 'connected') return;
    this.consentAnswers++;
    this.#consent.answered();
  }

  close(): Promise<void> {
    this.closeCalls++;
    if (this.#state === 'closed') return Promise.resolve();
    this.#state = 'closed';
    this.#consent.stop();
    for (const t of this.#timers) t.cancel();
    this.#timers = [];
    this.#connectWaiter?.reject(new ClosedError('agent closed'));
    this.#connectWaiter = undefined;
    // Like werift: a 'closed' state event fires during close().
    this.emit('state', 'closed');
    if (this.#net.closeDelayMs === 0) return Promise.resolve();
    return this.#net.clock.sleep(this.#net.closeDelayMs);
  }

  /** Test hook: emits a state change even after close (a late library event). */
  injectState(state: IceAgentState): void {
    if (this.#state !== 'closed') this.#state = state;
    this.emit('state', state);
  }

  /** Test hook: STUN consent expired (as werift reports it): failed unless probe answers keep consent. */
  lapseStunConsent(): void {
    if (this.#state === 'connected' && this.#consent.stunLapsed()) return;
    this.#setState('failed');
  }

  /** Test hook: emits a local candidate, even after close. */
  injectCandidate(candidate: string = this.candidate): void {
    this.emit('candidate', candidate, { type: 'host', address: this.host, port: this.port });
  }

  /** Test hook: a datagram from the nominated remote, even after close. */
  injectData(datagram: Buffer): void {
    this.emit('data', datagram);
  }

  /** Test hook: makes a pending connect() fail like a library error. */
  failConnect(message = 'ICE negotiation failed'): void {
    this.#connectWaiter?.reject(new IceAgentError(message));
    this.#connectWaiter = undefined;
  }

  #setState(state: IceAgentState): void {
    if (this.#state === state || this.#state === 'closed') return;
    this.#state = state;
    this.emit('state', state);
  }
}
