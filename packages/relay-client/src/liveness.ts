import { type Clock, SendLiveness, type Timer } from '@mesh/core';

export interface LivenessOptions {
  clock: Clock;
  /** Health-check watchdog: a server health check must arrive within each `intervalMs + timeoutMs`. */
  intervalMs: number;
  timeoutMs: number;
  /** Half-open detection (core's SendLiveness): sending into `idleMs` of silence pings; nothing within `pongTimeoutMs` is dead. */
  idleMs: number;
  pongTimeoutMs: number;
  /** Sends a WebSocket ping. */
  ping(): void;
  /** The connection is dead; the owner tears down and calls `stop()`. */
  dead(cause: 'healthcheck-timeout' | 'ping-timeout', error?: Error): void;
}

/**
 * Whether the server connection still delivers: core's SendLiveness (a WebSocket ping when we send
 * into silence, as into a half-open socket, or when asked), plus the relay's health-check watchdog.
 */
export class Liveness extends SendLiveness {
  readonly #o: LivenessOptions;
  #watchdog: Timer | undefined;
  /** Set when a health check arrived in the current watchdog window. */
  #alive = false;

  constructor(options: LivenessOptions) {
    super({ ...options, dead: (error) => options.dead('ping-timeout', error) });
    this.#o = options;
  }

  /** Connected to `label` (the instance URL, for error messages): arms the watchdog too. */
  override start(label: string): void {
    super.start(`relay ${label}`);
    const { clock, intervalMs, timeoutMs } = this.#o;
    this.#alive = false;
    this.#watchdog = clock.setInterval(() => {
      if (this.#alive) {
        this.#alive = false;
        return;
      }
      this.#o.dead('healthcheck-timeout');
    }, intervalMs + timeoutMs);
  }

  /** Cancels the watchdog and the ping timers; waiting `check` callers get false. */
  override stop(): void {
    this.#watchdog?.cancel();
    this.#watchdog = undefined;
    super.stop();
  }

  /** A server health check arrived. */
  healthCheck(): void {
    this.#alive = true;
  }
}
