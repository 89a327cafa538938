import type { Clock, Logger, PeerKey, SignalerEvents } from '@mesh/core';
import type { OpenFailure } from './protocol/crypto.js';

/** Options of a SignalClient. */
export interface SignalClientOptions {
  /** `ws://host:port` (or `wss://`) of a mesh-signal server. */
  url: string;
  /** This peer's WireGuard private key, base64 (as `wg genkey` prints it). */
  privateKey: string;
  /** Clock for every timer and for message timestamps; `systemClock` by default. */
  clock?: Clock;
  /** Logger; silent by default. */
  logger?: Logger;
  /** Delay ladder between connection attempts (750 ms doubling to 15 s, ±30 % jitter). */
  reconnect?: { initialMs?: number; maxMs?: number; jitter?: number };
  /** Connect + prove the key within this, or the attempt is abandoned (5 s). */
  registerTimeoutMs?: number;
  /**
   * Ping the server this often; a missing pong by the next ping drops the connection (15 s). The
   * idle backstop (it also keeps idle-timeout proxies from cutting the stream); `liveness` finds a
   * dead link sooner whenever we send.
   */
  heartbeatMs?: number;
  /**
   * Black-hole detection (the host roamed, its route changed): a `send` after `idleMs` (2 s) with
   * nothing received pings the server at once, a send sooner pings once the silence reaches
   * `idleMs`; when nothing at all (pong or frame) arrives within `pongTimeoutMs` (3 s) of the ping,
   * the link is dropped (`disconnected`, cause `'ping-timeout'`) and reconnected. So a dead link is
   * left within `idleMs + pongTimeoutMs` of the first send into it. See also `check()`.
   */
  liveness?: { idleMs?: number; pongTimeoutMs?: number };
  /** A message whose timestamp is further than this from our wall clock is rejected as stale (2 min). */
  freshnessWindowMs?: number;
  /** Message ids remembered for replay detection (10,000). */
  replayCacheSize?: number;
  /** Largest frame sent or accepted (64 KiB; match the server's). */
  maxMessageBytes?: number;
  /** `send` rejects while this much is unsent on the socket (1 MiB). */
  maxBufferedBytes?: number;
}

/** Why a registered connection ended. */
export type DisconnectCause =
  | 'server-closed'
  | 'shutdown'
  | 'replaced'
  | 'auth-failed'
  | 'register-timeout'
  | 'heartbeat-timeout'
  | 'ping-timeout'
  | 'network-change'
  | 'protocol-error'
  | 'connection-lost';

/** Why an incoming message was dropped (each is counted in `stats().rejected`). */
export type RejectReason = OpenFailure | 'stale' | 'replay';

/** Events of a SignalClient: the Signaler events plus connection and rejection reports. */
export interface SignalClientEvents extends SignalerEvents {
  /**
   * Registered with the server: `send` works from now on. The `info` argument is always passed; it
   * is optional in the type so this stays the core `SignalerEvents['connected']` (a listener taking
   * no arguments fits).
   */
  connected: (info?: { url: string }) => void;
  /** The registered connection ended; the client is already scheduling the next attempt. */
  disconnected: (info: { cause: DisconnectCause }) => void;
  /** The next connection attempt starts in `delayMs` (after a failed attempt or a disconnect). */
  reconnecting: (info: { attempt: number; delayMs: number; cause: DisconnectCause }) => void;
  /** An incoming message that was dropped: forged, tampered, replayed, stale or malformed. */
  rejected: (info: { from?: PeerKey; reason: RejectReason; detail?: string }) => void;
}

/** Cumulative counters of a SignalClient. */
export interface SignalClientStats {
  /** Messages sealed and handed to the socket. */
  sent: number;
  /** Messages opened and accepted. */
  received: number;
  /** Successful registrations with a server. */
  connects: number;
  /** Registered connections that ended. */
  disconnects: number;
  /** Incoming messages dropped, by reason. */
  rejected: Record<RejectReason, number>;
}
