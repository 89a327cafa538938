import {
  abortReason,
  Backoff,
  type Clock,
  ClosedError,
  InvalidArgumentError,
  type Logger,
  PeerKey,
  raceAbort,
  SendLiveness,
  type Signaler,
  silentLogger,
  systemClock,
  type Timer,
  TypedEmitter,
} from '@mesh/core';
import WebSocket, { type RawData } from 'ws';
import { ABNORMAL_CLOSURE, CLOSE_CAUSES, DEFAULTS, PROMPT_RESETS } from './constants.js';
import { NotConnectedError, SignalError, SignalErrorCodes } from './errors.js';
import { endTimers, isUp, type Link } from './link.js';
import type {
  DisconnectCause,
  RejectReason,
  SignalClientEvents,
  SignalClientOptions,
  SignalClientStats,
} from './options.js';
import { answerChallenge, type Identity, identityFromPrivateKey, Sealer } from './protocol/crypto.js';
import { TokenBucket } from './protocol/token-bucket.js';
import { decodeServerFrame, encodeRegister, encodeSend, FORWARD_GROWTH, FrameError } from './protocol/wire.js';
import { ReplayCache } from './replay-cache.js';

/**
 * The client side of mesh-signal, and a `Signaler` for PeerConn. It keeps one registered connection
 * to the server, reconnecting forever on a jittered ladder; sealing and opening happen here, so the
 * server only ever sees ciphertext. Nothing is queued while disconnected: `send` rejects and
 * PeerConn's guard sends a fresh offer on `connected`. A link that stops delivering is left within
 * seconds of the next send (see `liveness`), or on `check()`. Incoming input it cannot trust is
 * dropped, counted and reported as `rejected`, never thrown.
 */
export class SignalClient extends TypedEmitter<SignalClientEvents> implements Signaler {
  /** Our WireGuard public key (derived from the private key). */
  readonly publicKey: PeerKey;
  /** The server URL. */
  readonly url: string;
  readonly #identity: Identity;
  readonly #sealer: Sealer;
  readonly #replay: ReplayCache;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  readonly #promptResets: TokenBucket;
  readonly #opts: typeof DEFAULTS;
  #state: 'idle' | 'running' | 'stopped' = 'idle';
  #link: Link | undefined;
  #retry: Timer | undefined;
  #stopping: Promise<void> | undefined;
  readonly #stats: SignalClientStats = {
    sent: 0,
    received: 0,
    connects: 0,
    disconnects: 0,
    rejected: { malformed: 0, 'bad-sender': 0, 'bad-recipient': 0, 'bad-tag': 0, stale: 0, replay: 0 },
  };

  constructor(options: SignalClientOptions) {
    super();
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new InvalidArgumentError(`signal url must be ws:// or wss://, got ${JSON.stringify(options.url)}`);
    }
    // (ws would throw on a fragment at every connection attempt, far from the mistake.)
    if ((url.protocol !== 'ws:' && url.protocol !== 'wss:') || url.hash) {
      throw new InvalidArgumentError(`signal url must be ws:// or wss://, got ${JSON.stringify(options.url)}`);
    }
    this.url = options.url;
    this.#identity = identityFromPrivateKey(options.privateKey);
    this.publicKey = this.#identity.publicKey;
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? silentLogger).child({ self: this.publicKey.toShortString() });
    const r = options.reconnect ?? {};
    this.#opts = {
      ...DEFAULTS,
      ...definedOnly({
        initialMs: r.initialMs,
        maxMs: r.maxMs,
        jitter: r.jitter,
        registerTimeoutMs: options.registerTimeoutMs,
        heartbeatMs: options.heartbeatMs,
        idleMs: options.liveness?.idleMs,
        pongTimeoutMs: options.liveness?.pongTimeoutMs,
        freshnessWindowMs: options.freshnessWindowMs,
        replayCacheSize: options.replayCacheSize,
        maxMessageBytes: options.maxMessageBytes,
        maxBufferedBytes: options.maxBufferedBytes,
      }),
    };
    const o = this.#opts;
    const positive = {
      registerTimeoutMs: o.registerTimeoutMs,
      heartbeatMs: o.heartbeatMs,
      'liveness.idleMs': o.idleMs,
      'liveness.pongTimeoutMs': o.pongTimeoutMs,
      freshnessWindowMs: o.freshnessWindowMs,
      replayCacheSize: o.replayCacheSize,
    };
    for (const [name, value] of Object.entries(positive)) {
      if (!(Number.isFinite(value) && value > 0)) {
        throw new InvalidArgumentError(`${name} must be a positive number, got ${value}`);
      }
    }
    this.#backoff = new Backoff({ initial: o.initialMs, max: o.maxMs, jitter: o.jitter });
    this.#promptResets = new TokenBucket(PROMPT_RESETS.perSecond, PROMPT_RESETS.burst, () => this.#clock.monotonic());
    this.#sealer = new Sealer(this.#identity);
    this.#replay = new ReplayCache({ windowMs: o.freshnessWindowMs, maxEntries: o.replayCacheSize });
  }

  /** True while registered with the server (and the link is not being dropped). */
  get connected(): boolean {
    return this.#link !== undefined && isUp(this.#link);
  }

  /** A copy of the counters. */
  stats(): SignalClientStats {
    return { ...this.#stats, rejected: { ...this.#stats.rejected } };
  }

  /** Starts connecting (and reconnecting until `stop()`). Idempotent; throws ERR_CLOSED after stop. */
  start(): void {
    if (this.#state === 'stopped') throw new ClosedError('the signal client is stopped');
    if (this.#state === 'running') return;
    this.#state = 'running';
    this.#connect();
  }

  /** Closes the connection and cancels retries. Idempotent; nothing is emitted afterwards. */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    this.#state = 'stopped';
    this.#retry?.cancel();
    const link = this.#link;
    this.#link = undefined;
    this.removeAllListeners();
    if (!link) return;
    endTimers(link);
    const ws = link.ws;
    if (ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = this.#clock.setTimeout(() => ws.terminate(), DEFAULTS.closeTimeoutMs);
      ws.once('close', () => {
        timer.cancel();
        resolve();
      });
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'client stopping');
      else ws.terminate();
    });
  }

  /**
   * Seals `message` (any JSON value; PeerConn sends offers, answers, candidates) for `to` and hands it to the socket. Resolves once written; rejects (never throws)
   * with ERR_SIGNAL_NOT_CONNECTED, ERR_SIGNAL_MESSAGE_INVALID, ERR_SIGNAL_BACKPRESSURE, ERR_SIGNAL_SEND,
   * ERR_CLOSED or ERR_ABORTED. There is no delivery receipt: signaling may drop, PeerConn copes.
   */
  async send(to: PeerKey, message: unknown, options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) throw abortReason(signal);
    if (this.#state === 'stopped') throw new ClosedError('the signal client is stopped');
    const link = this.#link;
    if (!link || !isUp(link)) throw new NotConnectedError();
    const recipient = PeerKey.from(to);
    let plaintext: Buffer;
    try {
      plaintext = Buffer.from(JSON.stringify(message), 'utf8');
    } catch (err) {
      throw new SignalError(SignalErrorCodes.MESSAGE, 'the message is not JSON-serialisable', { cause: err });
    }
    const { box } = this.#sealer.seal(recipient, plaintext, this.#clock.now());
    const frame = encodeSend(recipient, box);
    if (Buffer.byteLength(frame) > this.#opts.maxMessageBytes) {
      throw new SignalError(
        SignalErrorCodes.MESSAGE,
        `sealed message is ${Buffer.byteLength(frame)} bytes, over the ${this.#opts.maxMessageBytes}-byte limit`,
      );
    }
    if (link.ws.bufferedAmount > this.#opts.maxBufferedBytes) {
      throw new SignalError(SignalErrorCodes.BACKPRESSURE, `${link.ws.bufferedAmount} bytes still unsent`);
    }
    const written = new Promise<void>((resolve, reject) => {
      link.ws.send(frame, (err) => {
        if (err) reject(new SignalError(SignalErrorCodes.SEND, `send failed: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
    link.liveness.sent();
    await (signal ? raceAbort(written, signal) : written);
    this.#stats.sent++;
  }

  /**
   * Proves the link still delivers: pings the server now (or joins the ping in flight) and
   * resolves true as soon as anything arrives, the pong or any frame. When nothing arrives within
   * `liveness.pongTimeoutMs` it resolves false and the link is dropped (`disconnected`, cause
   * `'ping-timeout'`), and the normal reconnect follows. False at once when not connected, and
   * when the link ends otherwise or the client stops meanwhile. Never rejects except with
   * ERR_ABORTED (`signal` ends only this caller's wait).
   */
  check(options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const link = this.#link;
    if (link && isUp(link)) return link.liveness.check(options);
    return options.signal?.aborted ? Promise.reject(abortReason(options.signal)) : Promise.resolve(false);
  }

  /**
   * The local IP of the registered connection's socket (undefined when not connected): an agent that
   * sees it vanish from the host calls `reconnect()`, as nothing sent from it will be answered.
   */
  get localAddress(): string | undefined {
    const link = this.#link;
    return link && isUp(link) ? link.localAddress : undefined;
  }

  /**
   * Drops the registered connection at once (`disconnected`, cause `'network-change'`, a network
   * drop for the ladder) and connects again; for a connection whose local address is gone. Not
   * connected: the same as `reconnectNow()`. Does nothing before `start()` and after `stop()`.
   */
  reconnect(reason: string): void {
    const link = this.#link;
    if (this.#state !== 'running') return;
    if (!link || !isUp(link)) {
      this.reconnectNow(reason);
      return;
    }
    this.#log.info('signal-reconnect', { reason });
    this.#abandon(link, 'network-change');
  }

  /**
   * For "the network just came back or changed": when a retry is waiting on the backoff ladder,
   * cancels it, restarts the ladder and connects at once. Connected, or an attempt in progress:
   * does nothing (test a connected link with `check()`). Each call that connects takes a
   * prompt-reset token (shared with the ladder's network-drop rule: 3, then one a minute); when
   * none is left the current schedule stands, so a flapping network cannot make it storm.
   * Does nothing before `start()` and after `stop()`. `reason` is logged.
   */
  reconnectNow(reason: string): void {
    if (this.#state !== 'running' || !this.#retry) return;
    if (!this.#promptResets.take()) {
      this.#log.info('signal-reconnect-now-skipped', { reason, detail: 'no prompt-reset token left' });
      return;
    }
    this.#retry.cancel();
    this.#retry = undefined;
    this.#backoff.reset();
    this.#log.info('signal-reconnect-now', { reason });
    this.#connect();
  }

  #connect(): void {
    const ws = new WebSocket(this.url, {
      perMessageDeflate: false,
      maxPayload: this.#opts.maxMessageBytes + FORWARD_GROWTH,
    });
    const link: Link = {
      ws,
      registered: false,
      alive: true,
      registeredAt: 0,
      deadline: this.#clock.setTimeout(() => this.#abandon(link, 'register-timeout'), this.#opts.registerTimeoutMs),
      liveness: new SendLiveness({
        clock: this.#clock,
        idleMs: this.#opts.idleMs,
        pongTimeoutMs: this.#opts.pongTimeoutMs,
        ping: () => ws.ping(),
        dead: (error) => {
          this.#log.warn('signal-ping-timeout', { error });
          this.#abandon(link, 'ping-timeout');
        },
      }),
    };
    this.#link = link;
    ws.on('error', (err) => {
      // Always followed by 'close', where the reconnect is scheduled.
      this.#log.debug('signal-socket-error', { error: err });
    });
    ws.on('upgrade', (res) => {
      link.localAddress = res.socket.localAddress;
    });
    ws.on('pong', () => {
      link.alive = true;
      link.liveness.received();
    });
    ws.on('message', (data: RawData, isBinary: boolean) => this.#onFrame(link, data as Buffer, isBinary));
    ws.on('close', (code: number) => this.#onClose(link, code));
  }

  /** Ends a link for a reason we detected ourselves. */
  #abandon(link: Link, cause: DisconnectCause): void {
    link.cause ??= cause;
    link.ws.terminate();
  }

  #onFrame(link: Link, data: Buffer, isBinary: boolean): void {
    if (this.#link !== link) return;
    link.alive = true;
    link.liveness.received();
    let frame: ReturnType<typeof decodeServerFrame>;
    try {
      if (isBinary) throw new FrameError('binary frame');
      frame = decodeServerFrame(data.toString('utf8'));
    } catch (err) {
      const detail = (err as Error).message;
      // Mid-session garbage is dropped like any untrusted input; during the handshake it is fatal.
      if (link.registered) {
        this.#reject(undefined, 'malformed', detail);
        return;
      }
      this.#log.warn('signal-protocol-error', { detail });
      this.#abandon(link, 'protocol-error');
      return;
    }
    if (frame.type === 'challenge' && !link.registered) {
      let mac: Buffer;
      try {
        mac = answerChallenge(this.#identity, { ephemeralPublic: frame.ephemeralKey, nonce: frame.nonce });
      } catch {
        this.#abandon(link, 'protocol-error');
        return;
      }
      link.ws.send(encodeRegister(this.publicKey, mac));
    } else if (frame.type === 'registered' && !link.registered && frame.publicKey.equals(this.publicKey)) {
      link.deadline.cancel();
      link.registered = true;
      link.registeredAt = this.#clock.monotonic();
      link.heartbeat = this.#clock.setInterval(() => this.#beat(link), this.#opts.heartbeatMs);
      link.liveness.start(`signal server ${this.url}`);
      this.#stats.connects++;
      this.#log.info('signal-connected', { url: this.url, attempt: this.#backoff.attempt });
      this.#safeEmit('connected', { url: this.url });
    } else if (frame.type === 'message' && link.registered) {
      this.#onMessage(frame.from, frame.box);
    } else {
      this.#log.warn('signal-protocol-error', { detail: `unexpected ${frame.type}` });
      this.#abandon(link, 'protocol-error');
    }
  }

  #onMessage(from: PeerKey, box: Buffer): void {
    const opened = this.#sealer.open(from, box);
    if (!opened.ok) {
      this.#reject(from, opened.reason);
      return;
    }
    const { header, plaintext } = opened;
    const verdict = this.#replay.check(`${from.base64}:${header.messageId}`, header.timestamp, this.#clock.now());
    if (verdict !== 'fresh') {
      this.#reject(from, verdict, `timestamp ${header.timestamp}, id ${header.messageId}`);
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(plaintext.toString('utf8'));
    } catch {
      this.#reject(from, 'malformed', 'sealed payload is not JSON');
      return;
    }
    this.#stats.received++;
    this.#safeEmit('message', from, payload);
  }

  #reject(from: PeerKey | undefined, reason: RejectReason, detail?: string): void {
    this.#stats.rejected[reason]++;
    this.#log.warn('signal-message-rejected', { from: from?.toShortString(), reason, detail });
    this.#safeEmit('rejected', { ...(from ? { from } : {}), reason, ...(detail === undefined ? {} : { detail }) });
  }

  #beat(link: Link): void {
    if (!link.alive) {
      this.#abandon(link, 'heartbeat-timeout');
      return;
    }
    link.alive = false;
    link.ws.ping();
  }

  #onClose(link: Link, code: number): void {
    endTimers(link);
    if (this.#link !== link || this.#state !== 'running') return;
    this.#link = undefined;
    const cause = link.cause ?? CLOSE_CAUSES[code] ?? 'connection-lost';
    let ladderReset: 'stable' | 'network-drop' | undefined;
    if (link.registered) {
      this.#stats.disconnects++;
      this.#log.warn('signal-disconnected', { cause, code });
      this.#safeEmit('disconnected', { cause });
      ladderReset = this.#ladderReset(link, code);
      if (ladderReset) this.#backoff.reset();
    }
    if (this.#state !== 'running') return; // a listener stopped us
    // reconnect() after a network change redials at once (its token was the ladder reset).
    const delayMs = cause === 'network-change' && ladderReset ? 0 : this.#backoff.next();
    const attempt = this.#backoff.attempt;
    this.#log.info('signal-reconnecting', { attempt, delayMs, cause, code, ladderReset });
    this.#safeEmit('reconnecting', { attempt, delayMs, cause });
    if (this.#state !== 'running') return;
    this.#retry = this.#clock.setTimeout(() => {
      this.#retry = undefined;
      if (this.#state === 'running') this.#connect();
    }, delayMs);
  }

  /**
   * Whether a registered link's end restarts the ladder. A connection that stayed up for the cap
   * earned it. A shorter one restarts it only when the network cut it (no pong, or the socket died
   * without a close frame) and a prompt-reset token is left: the server was fine a moment ago, so
   * waiting on a ladder grown during the previous outage only lengthens this one. When the server
   * closes us itself (shutdown, replaced by a duplicate agent with our key, protocol error) the
   * ladder keeps growing, so a server that accepts and then closes cannot make us loop; the token
   * bucket bounds the same against one that accepts and then cuts the socket.
   */
  #ladderReset(link: Link, code: number): 'stable' | 'network-drop' | undefined {
    if (this.#clock.monotonic() - link.registeredAt >= this.#opts.maxMs) return 'stable';
    const networkDrop =
      link.cause === 'heartbeat-timeout' ||
      link.cause === 'ping-timeout' ||
      link.cause === 'network-change' ||
      (link.cause === undefined && code === ABNORMAL_CLOSURE);
    return networkDrop && this.#promptResets.take() ? 'network-drop' : undefined;
  }

  /** A throwing listener is the application's bug; it must not kill the socket handler or our state. */
  #safeEmit<E extends keyof SignalClientEvents>(event: E, ...args: Parameters<SignalClientEvents[E]>): void {
    if (this.#state !== 'running') return;
    try {
      (this.emit as (e: E, ...a: Parameters<SignalClientEvents[E]>) => boolean)(event, ...args);
    } catch (err) {
      this.#log.error('signal-listener-error', { event, error: err });
    }
  }
}

function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
