import { abortReason, ClosedError, type Logger, raceAbort, TypedEmitter } from '@mesh/core';
import { Candidate, type CandidatePair, CandidatePairState, Connection, type IceOptions, type IceState } from 'werift';
import type { AddressFilter } from './address-filter.js';
import type {
  CandidateAddress,
  CandidateType,
  IceAgent,
  IceAgentConfig,
  IceAgentEvents,
  IceAgentState,
  SelectedPair,
} from './agent.js';
import { ConsentKeeper } from './consent.js';
import { STUN_TIMEOUT_MS } from './constants.js';
import { IceAgentError, type IceCredentials } from './wire.js';

type Address = readonly [string, number];
type DataHandler = (data: Buffer, addr: Address) => void;

/**
 * The parts of werift's (untyped-private) protocol objects we hook to learn the source address
 * of each datagram: `StunProtocol.transport.onData` (UDP host sockets) and
 * `StunOverTurnProtocol.handleStunMessage` (data relayed by TURN, addressed by peer).
 */
interface TappableProtocol {
  type: string;
  transport?: { onData: DataHandler };
  handleStunMessage?: DataHandler;
  onDataReceived: { subscribe(fn: (data: Buffer) => void): { unSubscribe(): void } };
}

const CANDIDATE_TYPES: ReadonlySet<string> = new Set(['host', 'srflx', 'prflx', 'relay']);

/** An IceAgent over werift's `Connection` (one per session; never restarted). */
export class WeriftIceAgent extends TypedEmitter<IceAgentEvents> implements IceAgent {
  readonly credentials: IceCredentials;
  readonly #conn: Connection;
  readonly #excluded: AddressFilter;
  readonly #log: Logger;
  readonly #closing = new AbortController();
  #state: IceAgentState = 'new';
  #closeCalled = false;
  #gathering: Promise<void> | undefined;
  readonly #tapped = new WeakSet<object>();
  readonly #untaps: (() => void)[] = [];
  /** Source of the datagram being dispatched right now (set by the tap, read by the data handler). */
  #source: Address | undefined;
  readonly #subs: { unSubscribe(): void }[] = [];
  readonly #consent: ConsentKeeper;
  /** Resolves when every socket the agent ever opened is closed (may be after close() resolves). */
  readonly released: Promise<void>;
  #release!: () => void;

  constructor(config: IceAgentConfig) {
    super();
    this.credentials = config.credentials;
    this.#excluded = config.excluded;
    this.#log = config.logger;
    this.#consent = new ConsentKeeper({
      clock: config.clock,
      log: config.logger,
      onExpired: () => this.#setState('failed'),
    });
    this.released = new Promise((r) => {
      this.#release = r;
    });
    const excluded = config.excluded;
    const options: Partial<IceOptions> = {
      // Without discovery only config.hostAddresses become host candidates.
      useIpv4: config.discoverHostAddresses !== false,
      useIpv6: config.discoverHostAddresses !== false,
      additionalHostAddresses: config.hostAddresses,
      portRange: config.portRange,
      stunGatherTimeout: (config.stunTimeoutMs ?? STUN_TIMEOUT_MS) / 1000,
      filterCandidatePair: (pair: CandidatePair) =>
        !excluded.excludes(pair.localCandidate.host) &&
        !excluded.excludes(pair.localCandidate.relatedAddress) &&
        !excluded.excludes(pair.remoteCandidate.host),
      // Incoming checks form pairs without filterCandidatePair: veto them here.
      filterStunResponse: (_msg, addr, protocol) =>
        !excluded.excludes(addr[0]) && !excluded.excludes(protocol.localCandidate?.host),
    };
    if (config.stun) options.stunServer = [config.stun.host, config.stun.port];
    if (config.turn) {
      options.turnServer = [config.turn.host, config.turn.port];
      options.turnUsername = config.turn.username;
      options.turnPassword = config.turn.password;
      options.turnTransport = config.turn.transport ?? 'udp';
    }
    this.#conn = new Connection(config.controlling, options);
    // werift substitutes Google's STUN server when none is given: only what we configure is contacted.
    if (!config.stun) this.#conn.stunServer = undefined;
    // Our per-session credentials replace the ones werift generated.
    this.#conn.localUsername = config.credentials.ufrag;
    this.#conn.localPassword = config.credentials.pwd;
    this.#conn.userHistory = { [config.credentials.ufrag]: config.credentials.pwd };
    this.#subs.push(
      this.#conn.onIceCandidate.subscribe((c) => this.#onLocalCandidate(c)),
      this.#conn.stateChanged.subscribe((s) => this.#onLibraryState(s)),
    );
  }

  get state(): IceAgentState {
    return this.#state;
  }

  gather(): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new ClosedError('agent closed'));
    this.#gathering ??= this.#conn.gatherCandidates();
    return this.#gathering;
  }

  setRemoteCredentials(credentials: IceCredentials): void {
    this.#conn.setRemoteParams({ iceLite: false, usernameFragment: credentials.ufrag, password: credentials.pwd });
  }

  async addRemoteCandidate(sdp: string): Promise<boolean> {
    if (this.#state === 'closed') return false;
    let candidate: Candidate;
    try {
      candidate = Candidate.fromSdp(sdp);
    } catch {
      return false;
    }
    if (!CANDIDATE_TYPES.has(candidate.type) || candidate.transport.toLowerCase() !== 'udp') return false;
    if (!Number.isInteger(candidate.port) || candidate.port <= 0 || candidate.port > 65535) return false;
    if (this.#excluded.excludes(candidate.host)) return false;
    await this.#conn.addRemoteCandidate(candidate);
    return true;
  }

  async connect(options: { signal?: AbortSignal } = {}): Promise<SelectedPair> {
    if (this.#state === 'closed') throw new ClosedError('agent closed');
    if (!this.#gathering) throw new IceAgentError('connect() before gather()');
    this.#setState('connecting');
    const signal = options.signal ? AbortSignal.any([options.signal, this.#closing.signal]) : this.#closing.signal;
    // werift's connect() can stay pending forever after "ICE failed" or close(): always raced.
    const running = this.#conn.connect();
    try {
      await raceAbort(running, signal);
    } catch (err) {
      if (signal.aborted) throw abortReason(signal);
      throw new IceAgentError(`ICE negotiation failed: ${(err as Error)?.message ?? err}`, { cause: err });
    }
    const pair = this.#conn.nominated;
    if (!pair || this.#state !== 'connecting') throw new IceAgentError('no nominated pair after connect');
    this.#consent.answered(); // the nominating check was the first consent answer
    this.#setState('connected');
    return {
      local: describe(pair.localCandidate),
      remote: describe(pair.remoteCandidate),
      rttMs: pair.rtt === undefined ? undefined : pair.rtt * 1000,
    };
  }

  /**
   * Straight onto the nominated pair's socket: werift's `Connection.send` would refuse once its STUN
   * consent lapsed, but consent is ours to judge (ConsentKeeper), and `state` is 'connected' only
   * while it holds.
   */
  send(datagram: Uint8Array): boolean {
    const pair = this.#conn.nominated;
    if (this.#state !== 'connected' || !pair) return false;
    const buf = Buffer.isBuffer(datagram)
      ? datagram
      : Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
    pair.protocol.sendData(buf, pair.remoteAddr).catch(() => {});
    return true;
  }

  consentEvidence(): void {
    if (this.#state === 'connected') this.#consent.answered();
  }

  async close(): Promise<void> {
    // Not keyed on state: a library-reported 'closed' must still release our sockets here.
    if (this.#closeCalled) return;
    this.#closeCalled = true;
    this.#state = 'closed';
    this.#consent.stop();
    this.removeAllListeners();
    this.#closing.abort(new ClosedError('agent closed'));
    for (const untap of this.#untaps.splice(0)) untap();
    for (const s of this.#subs) s.unSubscribe();
    try {
      await this.#conn.close();
    } catch (err) {
      this.#log.debug('ice-agent-close-error', { error: err });
    }
    // Gathering that ends after close() leaves two things behind in werift 0.25.2: sockets (or a
    // TURN allocation) added after close, and its trailing setState('completed'), which hides
    // 'closed' from connect()'s check loop so it polls every 20 ms forever. Close again once
    // gathering has settled, so nothing outlives the agent.
    const settle = this.#gathering ?? Promise.resolve();
    settle
      .catch(() => {})
      .then(async () => {
        const conn = this.#conn as unknown as { protocols: unknown[]; state: IceState };
        if (conn.protocols.length > 0 || conn.state !== 'closed') await this.#conn.close();
      })
      .catch(() => {})
      .finally(() => this.#release());
  }

  #setState(state: IceAgentState): void {
    if (this.#state === state || this.#state === 'closed') return;
    this.#state = state;
    this.emit('state', state);
  }

  #onLocalCandidate(c: Candidate): void {
    if (this.#state === 'closed') return;
    if (this.#excluded.excludes(c.host) || this.#excluded.excludes(c.relatedAddress)) {
      this.#log.debug('ice-candidate-excluded', { address: c.host, type: c.type });
      return;
    }
    const protocol = this.#protocolOf(c);
    if (protocol) {
      this.#tapProtocol(protocol);
      if (c.type === 'relay') this.#pairLate(protocol);
    }
    const info: CandidateAddress & { relatedAddress?: string } = describe(c);
    if (c.relatedAddress) info.relatedAddress = c.relatedAddress;
    this.emit('candidate', c.toSdp(), info);
  }

  /**
   * werift 0.25.2 pairs a TURN protocol only with remote candidates added after its allocation
   * completes (host sockets are paired on creation, TURN ones are not). When every remote
   * candidate arrived first — usual when the remote built its agent earlier — the relay candidate
   * would never be checked. Pair it with the known remote candidates now (filters still apply).
   */
  #pairLate(protocol: object): void {
    (this.#conn as unknown as { pairLocalProtocol(p: object): void }).pairLocalProtocol(protocol);
  }

  /** The socket (werift "protocol") a local host or relay candidate belongs to. */
  #protocolOf(c: Candidate): object | undefined {
    const protocols = (this.#conn as unknown as { protocols: { localCandidate?: Candidate }[] }).protocols;
    return protocols.find((p) => p.localCandidate === c);
  }

  #onLibraryState(state: IceState): void {
    // 'completed' means gathering finished; 'connected' is reported by connect() itself. werift
    // reports 'failed' on a connected agent when its STUN consent expired: probe answers may still
    // hold consent (soft consent), and then the session carries on.
    if (state === 'failed' && this.#state === 'connected' && this.#consent.stunLapsed()) return;
    if (state === 'failed' || state === 'disconnected' || state === 'closed') this.#setState(state);
  }

  /**
   * Hooks one of the agent's sockets so each datagram is seen with its source address, and
   * delivers it only if (protocol, source) is a pair that passed an authenticated check in this
   * session (ICE's valid list, which holds the nominated pair). Not only the nominated pair:
   * with aggressive nomination werift's two sides can select different pairs (seen in the lab:
   * A sent host→B-relay while B had selected host→A-relay), and each side sends on its own.
   */
  #tapProtocol(p: unknown): void {
    const protocol = p as TappableProtocol;
    if (this.#tapped.has(protocol)) return;
    const stamp =
      (orig: DataHandler): DataHandler =>
      (data, addr) => {
        this.#source = addr;
        try {
          orig(data, addr);
        } finally {
          this.#source = undefined;
        }
      };
    let restore: () => void;
    if (protocol.type === 'stun' && protocol.transport) {
      const transport = protocol.transport;
      const orig = transport.onData;
      transport.onData = stamp(orig);
      restore = () => {
        transport.onData = orig;
      };
    } else if (protocol.type === 'turn' && typeof protocol.handleStunMessage === 'function') {
      const orig = protocol.handleStunMessage;
      protocol.handleStunMessage = stamp(orig);
      restore = () => {
        protocol.handleStunMessage = orig;
      };
    } else {
      // Unknown transport (werift changed): fail closed rather than accept any sender.
      this.#log.warn('ice-data-untappable', { protocol: protocol.type });
      return;
    }
    this.#tapped.add(protocol);
    const sub = protocol.onDataReceived.subscribe((data) => {
      const src = this.#source;
      if (this.#state === 'connected' && src && this.#isValidSource(protocol, src)) this.emit('data', data);
    });
    this.#untaps.push(() => {
      sub.unSubscribe();
      restore();
    });
  }

  #isValidSource(protocol: TappableProtocol, src: Address): boolean {
    const host = stripV4Mapped(src[0]);
    return this.#conn.checkList.some(
      (pair) =>
        pair.state === CandidatePairState.SUCCEEDED &&
        (pair.protocol as unknown) === protocol &&
        pair.remoteAddr[1] === src[1] &&
        stripV4Mapped(pair.remoteAddr[0]) === host,
    );
  }
}

function stripV4Mapped(host: string): string {
  return host.startsWith('::ffff:') ? host.slice(7) : host;
}

function describe(c: Candidate): CandidateAddress {
  return { type: (CANDIDATE_TYPES.has(c.type) ? c.type : 'host') as CandidateType, address: c.host, port: c.port };
}

/** The default agent factory. */
export function weriftAgentFactory(config: IceAgentConfig): IceAgent {
  return new WeriftIceAgent(config);
}
