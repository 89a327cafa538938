import {
  type Clock,
  ClosedError,
  hasCode,
  type Logger,
  silentLogger,
  systemClock,
  TypedEmitter,
  toError,
  withDeadline,
} from '@mesh/core';
import PQueue from 'p-queue';
import { AddressFilter } from './address-filter.js';
import type { CandidateAddress, IceAgent, IceAgentFactory, SelectedPair } from './agent.js';
import { CandidateBuffer } from './candidate-buffer.js';
import { IcePath, type IcePathKind } from './ice-path.js';
import { type IceWorkerOptions, resolveOptions } from './ice-worker-options.js';
import { weriftAgentFactory } from './werift-agent.js';
import {
  IceAgentError,
  type IceCandidateMessage,
  type IceDescription,
  type LocalSession,
  newLocalSession,
  parseCandidateMessage,
  parseDescription,
} from './wire.js';

/** Why a session ended (also the `cause` of the rotation that followed, if any). */
export type IceEndReason =
  | 'remote-session-changed'
  | 'replaced'
  | 'reset'
  | 'timeout'
  | 'connect-error'
  | 'failed'
  | 'disconnected'
  | 'closed'
  | 'path-closed';

/** A session that reached `connected` (the `connected` event). */
export interface IceConnectedInfo {
  /** Our session id. */
  sessionId: string;
  /** The remote session id the agent was built for. */
  remoteSessionId: string;
  /** The DatagramPath over the nominated pair. */
  path: IcePath;
  /** The nominated pair and the path kind it makes. */
  pair: SelectedPair & { kind: IcePathKind };
}

/** A session that ended (the `disconnected` event). */
export interface IceDisconnectedInfo {
  /** Our session id. */
  sessionId: string;
  /** Why it ended. */
  reason: IceEndReason;
  /** Whether the session had reached `connected`. */
  wasConnected: boolean;
  /** The error behind `connect-error` or `failed`, when there was one. */
  error?: Error;
}

/** Our session id changed (the `session-rotated` event): the next offer carries `new`. */
export interface IceSessionRotatedInfo {
  /** The session id that ended. */
  old: string;
  /** The fresh session id. */
  new: string;
  /** Why the old session ended. */
  cause: IceEndReason;
}

/** Events of an IceWorker. */
export interface IceWorkerEvents {
  /** Send to the remote as-is (JSON form in the README). */
  'local-candidate': (message: IceCandidateMessage) => void;
  /** A session connected; its path is ready to carry WireGuard. */
  connected: (info: IceConnectedInfo) => void;
  /** Every session that was started ends with exactly one of these (never after close()). */
  disconnected: (info: IceDisconnectedInfo) => void;
  /** Our session id rotated; the owner sends a fresh offer. */
  'session-rotated': (info: IceSessionRotatedInfo) => void;
}

interface Session {
  gen: number;
  agent: IceAgent;
  local: LocalSession;
  remoteId: string;
  /** Aborts the connect attempt when the session ends. */
  ac: AbortController;
  connected: boolean;
  path: IcePath | undefined;
}

/**
 * Runs at most one ICE session with one remote peer. Every decision (offer, answer, candidate,
 * connected, library state change) is taken inside one serial queue and checked against the
 * session that caused it, so late events from a replaced agent change nothing.
 */
export class IceWorker extends TypedEmitter<IceWorkerEvents> {
  /** Whether this side is the ICE controlling agent (its key sorts higher). */
  readonly controlling: boolean;
  readonly #opts: IceWorkerOptions;
  readonly #factory: IceAgentFactory;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #excluded: AddressFilter;
  readonly #connectTimeoutMs: number;
  readonly #queue = new PQueue({ concurrency: 1 });
  #local: LocalSession = newLocalSession();
  #session: Session | undefined;
  #gen = 0;
  readonly #buffer: CandidateBuffer;
  readonly #closingAgents = new Set<Promise<void>>();
  #closed = false;

  constructor(options: IceWorkerOptions) {
    super();
    const timings = resolveOptions(options);
    this.controlling = options.localKey.isControllerFor(options.remoteKey);
    this.#opts = options;
    this.#excluded = new AddressFilter(options.excludedAddresses);
    this.#factory = options.agentFactory ?? weriftAgentFactory;
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? silentLogger).child({
      component: 'ice-worker',
      peer: options.remoteKey.toShortString(),
    });
    this.#connectTimeoutMs = timings.connectTimeoutMs;
    this.#buffer = new CandidateBuffer({
      clock: this.#clock,
      log: this.#log,
      max: timings.bufferMax,
      ttlMs: timings.bufferTtlMs,
    });
  }

  /** Our current session id (what the next offer carries). */
  get sessionId(): string {
    return this.#local.id;
  }

  /** The remote session id the running agent was built for, if any. */
  get remoteSessionId(): string | undefined {
    return this.#session?.remoteId;
  }

  /** An agent exists and has not connected yet. */
  get connecting(): boolean {
    return this.#session !== undefined && !this.#session.connected;
  }

  /** The connected session's path, if any. */
  get path(): IcePath | undefined {
    return this.#session?.path;
  }

  /** True after close(). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Number of buffered remote candidates (for tests and status). */
  get bufferedCandidates(): number {
    return this.#buffer.size;
  }

  /** What an offer carries: our current session id and its credentials. */
  localOffer(): IceDescription {
    if (this.#closed) throw new ClosedError('ice worker closed');
    return { sessionId: this.#local.id, ufrag: this.#local.ufrag, pwd: this.#local.pwd };
  }

  /**
   * Handles a remote offer and resolves with the answer to send back. Same remote session as the
   * running agent: ignored. Otherwise the running agent (if any) is closed, our session rotated,
   * and a new agent built for the offer.
   */
  onRemoteOffer(offer: unknown): Promise<IceDescription> {
    return this.#queue.add(() => {
      const desc = parseDescription(offer);
      this.#throwIfClosed();
      const s = this.#session;
      if (s && s.remoteId === desc.sessionId) {
        this.#log.debug('ice-offer-same-session', { remote: desc.sessionId });
      } else {
        if (s) this.#end(s, 'remote-session-changed');
        this.#start(desc);
      }
      return { ...this.localOffer(), inReplyTo: desc.sessionId };
    });
  }

  /**
   * Handles the remote's answer to one of our offers. Never rotates our session (that would
   * invalidate the agent the remote just built for it and start a loop): an answer to an older
   * session of ours is ignored; one naming a remote session other than our agent's replaces the
   * agent with one on the same local session.
   */
  onRemoteAnswer(answer: unknown): Promise<void> {
    return this.#queue.add(() => {
      const desc = parseDescription(answer);
      this.#throwIfClosed();
      if (desc.inReplyTo !== undefined && desc.inReplyTo !== this.#local.id) {
        this.#log.debug('ice-answer-stale', { inReplyTo: desc.inReplyTo, local: this.#local.id });
        return;
      }
      const s = this.#session;
      if (s && s.remoteId === desc.sessionId) return;
      if (s) this.#end(s, 'replaced', false);
      this.#start(desc);
    });
  }

  /** A remote session id whose agent is gone (ended or replaced): anything still naming it is old news. */
  isDeadRemoteSession(sessionId: string): boolean {
    return this.#buffer.isDead(sessionId);
  }

  /** A trickled remote candidate. Dead sessions: dropped; unknown ones: buffered (bounded, TTL). */
  addRemoteCandidate(message: unknown): Promise<void> {
    return this.#queue.add(() => {
      const msg = parseCandidateMessage(message);
      if (this.#closed) return;
      const s = this.#session;
      if (s && s.remoteId === msg.sessionId) {
        this.#apply(s, msg.candidate);
      } else if (this.#buffer.isDead(msg.sessionId)) {
        this.#log.debug('ice-candidate-dead-session', { remote: msg.sessionId });
      } else {
        this.#buffer.hold(msg);
      }
    });
  }

  /**
   * Ends the running session (if any), rotates our session id and forgets the remote's, so the
   * next offer in either direction builds fresh agents on both sides (NetBird PR #5866 problem 2).
   * Synchronous: `localOffer()` right after it carries the new id. No-op after close().
   */
  resetSessionId(): void {
    if (this.#closed) return;
    const s = this.#session;
    if (s) {
      this.#end(s, 'reset');
    } else {
      this.#rotate('reset');
    }
    this.#buffer.clear();
  }

  /**
   * Closes the agent and clears all negotiation state at once. Idempotent; the worker emits
   * nothing afterwards. Resolves when the agent has been closed.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      const s = this.#session;
      this.#session = undefined;
      if (s) {
        s.ac.abort();
        s.path?.end({ reason: 'closed' });
        this.#closeAgent(s.agent);
      }
      this.#buffer.reset();
      this.#local = newLocalSession();
      this.removeAllListeners();
    }
    await Promise.all(this.#closingAgents);
  }

  #throwIfClosed(): void {
    if (this.#closed) throw new ClosedError('ice worker closed');
  }

  /** Builds and starts an agent for `remote` on our current local session. Synchronous. */
  #start(remote: IceDescription): void {
    const local = this.#local;
    let agent: IceAgent;
    try {
      agent = this.#factory({
        controlling: this.controlling,
        credentials: { ufrag: local.ufrag, pwd: local.pwd },
        stun: this.#opts.stun,
        turn: this.#opts.turn,
        portRange: this.#opts.portRange,
        hostAddresses: this.#opts.hostAddresses,
        discoverHostAddresses: this.#opts.discoverHostAddresses,
        excluded: this.#excluded,
        stunTimeoutMs: this.#opts.stunTimeoutMs,
        clock: this.#clock,
        logger: this.#log,
      });
    } catch (err) {
      // Nothing was built: no state to clear (F-ICE-2/3 cannot happen).
      throw new IceAgentError(`could not build ICE agent: ${toError(err).message}`, { cause: err });
    }
    const s: Session = {
      gen: ++this.#gen,
      agent,
      local,
      remoteId: remote.sessionId,
      ac: new AbortController(),
      connected: false,
      path: undefined,
    };
    this.#session = s;
    this.#log.info('ice-session-start', { gen: s.gen, local: local.id, remote: remote.sessionId });
    agent.on('candidate', (candidate) => {
      if (this.#session === s) this.#emit('local-candidate', { sessionId: local.id, candidate });
    });
    agent.on('state', (state) => {
      if (state === 'failed' || state === 'disconnected' || state === 'closed') {
        this.#enqueue(() => this.#end(s, state));
      }
    });
    agent.setRemoteCredentials({ ufrag: remote.ufrag, pwd: remote.pwd });
    for (const candidate of this.#buffer.take(remote.sessionId)) this.#apply(s, candidate);
    void this.#run(s);
  }

  /** Gathers and connects under the deadline; reports the outcome back into the queue. */
  async #run(s: Session): Promise<void> {
    s.agent.gather().catch((err) => this.#log.debug('ice-gather-error', { gen: s.gen, error: err }));
    try {
      const pair = await withDeadline(this.#connectTimeoutMs, (signal) => s.agent.connect({ signal }), {
        signal: s.ac.signal,
        clock: this.#clock,
        what: 'ICE connect',
      });
      this.#enqueue(() => this.#onConnected(s, pair));
    } catch (err) {
      const reason: IceEndReason = hasCode(err, 'ERR_TIMEOUT') ? 'timeout' : 'connect-error';
      this.#enqueue(() => this.#end(s, reason, true, toError(err)));
    }
  }

  #onConnected(s: Session, pair: SelectedPair): void {
    // A negotiation that finished after its session ended publishes nothing (F-ICE-4).
    if (this.#session !== s || this.#closed) return;
    s.connected = true;
    const kind: IcePathKind = pair.local.type === 'relay' || pair.remote.type === 'relay' ? 'ice-turn' : 'ice-direct';
    const path = new IcePath(
      s.agent,
      kind,
      s.local.id,
      () => this.#clock.now(),
      () => {
        this.#enqueue(() => this.#end(s, 'path-closed'));
      },
    );
    s.path = path;
    this.#log.info('ice-connected', { gen: s.gen, kind, local: addr(pair.local), remote: addr(pair.remote) });
    this.#emit('connected', { sessionId: s.local.id, remoteSessionId: s.remoteId, path, pair: { ...pair, kind } });
  }

  /**
   * Ends session `s` if it is still the running one: all state goes at once (agent, path,
   * remote session, connecting flag), then the local session rotates unless `rotate` is false.
   */
  #end(s: Session, reason: IceEndReason, rotate = true, error?: Error): void {
    if (this.#session !== s || this.#closed) return;
    this.#session = undefined;
    s.ac.abort();
    this.#buffer.markDead(s.remoteId);
    s.path?.end(error ? { reason, error } : { reason });
    this.#closeAgent(s.agent);
    this.#log.info('ice-session-end', { gen: s.gen, local: s.local.id, reason, connected: s.connected, error });
    const info: IceDisconnectedInfo = { sessionId: s.local.id, reason, wasConnected: s.connected };
    if (error) info.error = error;
    this.#emit('disconnected', info);
    if (rotate) this.#rotate(reason);
  }

  #rotate(cause: IceEndReason): void {
    const old = this.#local.id;
    this.#local = newLocalSession();
    this.#emit('session-rotated', { old, new: this.#local.id, cause });
  }

  #apply(s: Session, candidate: string): void {
    s.agent.addRemoteCandidate(candidate).then(
      (ok) => {
        if (!ok) this.#log.debug('ice-candidate-rejected', { gen: s.gen, candidate });
      },
      (err) => this.#log.debug('ice-candidate-error', { gen: s.gen, error: err }),
    );
  }

  #closeAgent(agent: IceAgent): void {
    const p = agent.close().catch((err) => this.#log.debug('ice-agent-close-error', { error: err }));
    this.#closingAgents.add(p);
    void p.finally(() => this.#closingAgents.delete(p));
  }

  #enqueue(task: () => void): void {
    this.#queue.add(task).catch((err) => this.#log.error('ice-worker-task-error', { error: err }));
  }

  #emit<E extends keyof IceWorkerEvents>(event: E, ...args: Parameters<IceWorkerEvents[E]>): void {
    if (this.#closed) return;
    (this.emit as (e: E, ...a: Parameters<IceWorkerEvents[E]>) => boolean)(event, ...args);
  }
}

function addr(c: CandidateAddress): string {
  return `${c.type} ${c.address}:${c.port}`;
}
