import type { Clock, Logger, Timer } from '@mesh/core';
import type { PeerId } from '@mesh/relay-client';
import type { WebSocket } from 'ws';

export interface Notification {
  online: boolean;
  id: PeerId;
}

/** One authenticated peer connection. */
export class Session {
  /** Ids this session waits to hear online. */
  readonly onlineInterest = new Set<string>();
  /** Ids this session is subscribed to (it hears them go offline). */
  readonly offlineInterest = new Set<string>();
  readonly notifications: Notification[] = [];
  flushScheduled = false;
  /** Set when an echo arrived in the current health-check window (NetBird starts it false). */
  alive = false;
  closed = false;
  /** Fault injection: routing forgot this session but its socket stays open. */
  blackholed = false;
  #timers: Timer[] = [];

  constructor(
    readonly id: PeerId,
    readonly ws: WebSocket,
    readonly log: Logger,
  ) {}

  /** Sends a health check every `intervalMs`; `dead()` when no echo came within `intervalMs + timeoutMs`. */
  startHealthCheck(clock: Clock, intervalMs: number, timeoutMs: number, on: { ping(): void; dead(): void }): void {
    this.#timers.push(
      clock.setInterval(() => on.ping(), intervalMs),
      clock.setInterval(() => {
        if (this.alive) {
          this.alive = false;
          return;
        }
        on.dead();
      }, intervalMs + timeoutMs),
    );
  }

  stopTimers(): void {
    for (const t of this.#timers) t.cancel();
    this.#timers = [];
  }
}
