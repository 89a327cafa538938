import { abortReason, type Clock, type Timer } from './clock.js';
import { TimeoutError } from './errors.js';

/** Options of a SendLiveness. Both bounds must be positive; the owner validates its own option names. */
export interface SendLivenessOptions {
  /** Clock for the silence measure and both timers. */
  clock: Clock;
  /** A send after this long with nothing received pings (ms). */
  idleMs: number;
  /** After a ping, something (the pong or any frame) must arrive within this, or the link is dead (ms). */
  pongTimeoutMs: number;
  /** Sends the probe, e.g. a WebSocket ping (every RFC 6455 endpoint answers it). */
  ping(): void;
  /**
   * Nothing arrived within `pongTimeoutMs` of a ping. Called at most once per `start()`; the
   * instance is stopped by then and the owner drops the link.
   */
  dead(error: TimeoutError): void;
}

interface PendingPing {
  deadline: Timer;
  waiters: Array<(alive: boolean) => void>;
}

/**
 * Detects a black-holed link (the host roamed, a NAT or route dropped the flow): such a socket
 * still takes writes and reports no error, and the only sign is that nothing comes back. So when
 * we send into silence we ping, and when nothing at all arrives within `pongTimeoutMs` the link is
 * dead. A send while something arrived less than `idleMs` ago pings once the silence reaches
 * `idleMs` (unless something arrives first), so a dead link is found within `idleMs +
 * pongTimeoutMs` of the first send into it, without a ping per message on a busy link. `check()`
 * pings on demand. Pure: driven by the Clock, the owner does the I/O (`ping`) and the teardown.
 */
export class SendLiveness {
  readonly #o: SendLivenessOptions;
  #running = false;
  #label = '';
  /** Monotonic time anything (a frame or a pong) last arrived. */
  #lastRxAt = 0;
  /** Armed by a send before the silence reached `idleMs`: pings when it does. */
  #probe: Timer | undefined;
  /** The ping in flight: its pong deadline and the `check` callers waiting on it. */
  #ping: PendingPing | undefined;

  constructor(options: SendLivenessOptions) {
    this.#o = options;
  }

  /** The link is up; `label` names it in the `dead` error. Counts as having just received. */
  start(label: string): void {
    this.stop();
    this.#running = true;
    this.#label = label;
    this.#lastRxAt = this.#o.clock.monotonic();
  }

  /** Cancels every timer; waiting `check` callers get false. Idempotent; `dead` is not called. */
  stop(): void {
    this.#running = false;
    this.#probe?.cancel();
    this.#probe = undefined;
    this.#settle(false);
  }

  /** Anything arrived: the link delivers. */
  received(): void {
    if (!this.#running) return;
    this.#lastRxAt = this.#o.clock.monotonic();
    this.#probe?.cancel();
    this.#probe = undefined;
    this.#settle(true);
  }

  /** We sent something: ping now if nothing has arrived for `idleMs`, else once the silence reaches it. */
  sent(): void {
    if (!this.#running || this.#ping || this.#probe) return;
    const silentFor = this.#o.clock.monotonic() - this.#lastRxAt;
    if (silentFor >= this.#o.idleMs) {
      this.#sendPing();
      return;
    }
    this.#probe = this.#o.clock.setTimeout(() => {
      this.#probe = undefined;
      this.#sendPing();
    }, this.#o.idleMs - silentFor);
  }

  /**
   * Pings now (or joins the ping in flight) and resolves whether anything arrived within
   * `pongTimeoutMs`; false at once when not started. `signal` ends only this caller's wait
   * (rejects ERR_ABORTED); the ping goes on.
   */
  check(options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (!this.#running) return Promise.resolve(false);
    const ping = this.#sendPing();
    return new Promise<boolean>((resolve, reject) => {
      const onAbort = () => {
        ping.waiters.splice(ping.waiters.indexOf(done), 1);
        reject(abortReason(signal!));
      };
      const done = (alive: boolean) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(alive);
      };
      ping.waiters.push(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #sendPing(): PendingPing {
    if (this.#ping) return this.#ping;
    this.#probe?.cancel();
    this.#probe = undefined;
    const { pongTimeoutMs } = this.#o;
    const deadline = this.#o.clock.setTimeout(() => {
      this.stop();
      this.#o.dead(new TimeoutError(`${this.#label} sent nothing within ${pongTimeoutMs} ms of a ping`));
    }, pongTimeoutMs);
    const ping: PendingPing = { deadline, waiters: [] };
    this.#ping = ping;
    this.#o.ping();
    return ping;
  }

  #settle(alive: boolean): void {
    const ping = this.#ping;
    if (!ping) return;
    this.#ping = undefined;
    ping.deadline.cancel();
    for (const resolve of ping.waiters) resolve(alive);
  }
}
