import { abortReason, type Clock, TimeoutError, type Timer } from '@mesh/core';

interface PendingPing {
  deadline: Timer;
  waiters: Array<(alive: boolean) => void>;
}

export interface LivenessOptions {
  clock: Clock;
  /** Health-check watchdog: a server health check must arrive within each `intervalMs + timeoutMs`. */
  intervalMs: number;
  timeoutMs: number;
  /** Half-open detection: sending after `idleMs` of silence pings; nothing within `pongTimeoutMs` is dead. */
  idleMs: number;
  pongTimeoutMs: number;
  /** Sends a WebSocket ping. */
  ping(): void;
  /** The connection is dead; called at most once per `start()` (the owner tears down and calls `stop()`). */
  dead(cause: 'healthcheck-timeout' | 'ping-timeout', error?: Error): void;
}

/**
 * Whether the server connection still delivers: the health-check watchdog, and a WebSocket ping
 * when we send into silence (a half-open socket looks exactly like that) or when asked.
 */
export class Liveness {
  readonly #o: LivenessOptions;
  #watchdog: Timer | undefined;
  /** Set when a health check arrived in the current watchdog window. */
  #alive = false;
  /** Monotonic time anything (a frame or a pong) last arrived. */
  #lastRxAt = 0;
  /** The ping in flight: its pong deadline and the `check` callers waiting on it. */
  #ping: PendingPing | undefined;
  #label = '';

  constructor(options: LivenessOptions) {
    this.#o = options;
  }

  /** Connected to `label` (the instance URL, for error messages): arms the watchdog. */
  start(label: string): void {
    const { clock, intervalMs, timeoutMs } = this.#o;
    this.#label = label;
    this.#lastRxAt = clock.monotonic();
    this.#alive = false;
    this.#watchdog = clock.setInterval(() => {
      if (this.#alive) {
        this.#alive = false;
        return;
      }
      this.#o.dead('healthcheck-timeout');
    }, intervalMs + timeoutMs);
  }

  /** Cancels the watchdog and the pong deadline; waiting `check` callers get false. */
  stop(): void {
    this.#watchdog?.cancel();
    this.#watchdog = undefined;
    this.#settle(false);
  }

  /** A server health check arrived. */
  healthCheck(): void {
    this.#alive = true;
  }

  /** Anything arrived: the socket delivers. */
  received(): void {
    this.#lastRxAt = this.#o.clock.monotonic();
    this.#settle(true);
  }

  /** We sent something: ping if nothing has arrived for `idleMs`. */
  sent(): void {
    if (!this.#ping && this.#o.clock.monotonic() - this.#lastRxAt >= this.#o.idleMs) this.#sendPing();
  }

  /** Pings (or joins the ping in flight) and resolves whether anything arrived before the deadline. */
  check(signal: AbortSignal | undefined): Promise<boolean> {
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
    const { pongTimeoutMs } = this.#o;
    const deadline = this.#o.clock.setTimeout(() => {
      this.#o.dead(
        'ping-timeout',
        new TimeoutError(`relay ${this.#label} sent nothing within ${pongTimeoutMs} ms of a ping`),
      );
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
