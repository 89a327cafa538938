import type { SendLiveness, Timer } from '@mesh/core';
import type WebSocket from 'ws';
import type { DisconnectCause } from './options.js';

/** One WebSocket connection attempt and its state. */
export interface Link {
  readonly ws: WebSocket;
  registered: boolean;
  /** Set when we decide locally why the link ends (wins over the close code). */
  cause?: DisconnectCause;
  /** A pong arrived since the last heartbeat ping. */
  alive: boolean;
  registeredAt: number;
  /** The socket's local IP address, known once the WebSocket upgrade completed. */
  localAddress?: string;
  deadline: Timer;
  heartbeat?: Timer;
  /** Started at registration: pings when we send into silence. */
  readonly liveness: SendLiveness;
}

/** Registered and not being dropped: `send` and `check` may use it. */
export function isUp(link: Link): boolean {
  return link.registered && link.cause === undefined;
}

/** Cancels the link's timers; waiting `check` callers get false. */
export function endTimers(link: Link): void {
  link.deadline.cancel();
  link.heartbeat?.cancel();
  link.liveness.stop();
}
