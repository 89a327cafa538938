import type { Clock, Logger, PeerKey } from '@mesh/core';

/** A token: the binary v2 token, its base64 text, or a function returning either (called at connect). */
export type RelayTokenSource = Uint8Array | string | (() => Uint8Array | string);

/** Options of a RelayClient. */
export interface RelayClientOptions {
  /** `rel://host:port`, `rels://host:port`, `ws://…` or `wss://…` (the path is always `/relay`). */
  url: string;
  /** Our WireGuard public key; the relay peer id is derived from it. */
  localKey: PeerKey;
  /** The relay auth token (NetBird v2 HMAC token). */
  token: RelayTokenSource;
  /** Clock for every timer; `systemClock` by default. */
  clock?: Clock;
  /** Logger; silent by default. */
  logger?: Logger;
  /** Bound on opening the WebSocket (default 30 s, as NetBird's dial). */
  dialTimeoutMs?: number;
  /** Bound on the auth reply once the socket is open (default 8 s). */
  authTimeoutMs?: number;
  /** Bound on waiting for the remote peer to come online in `openConn` (default 30 s). */
  openTimeoutMs?: number;
  /**
   * Watchdog: the server pings every `intervalMs` (25 s); if no ping arrives within a window of
   * `intervalMs + timeoutMs` (35 s) the connection is declared dead.
   */
  healthCheck?: { intervalMs?: number; timeoutMs?: number };
  /**
   * Socket liveness (an RFC 6455 ping, which every WebSocket server answers: ours and NetBird's).
   * When the client sends while nothing has arrived for `idleMs` (2 s), it pings; when then nothing
   * at all arrives within `pongTimeoutMs` (3 s) the socket is dead (`disconnected`, cause
   * `ping-timeout`). Finds a half-open socket in seconds instead of the health-check window.
   */
  keepalive?: { idleMs?: number; pongTimeoutMs?: number };
  /** Per-conn receive queue while opening (default 100). */
  receiveQueueSize?: number;
  /** Early messages: newest per peer, kept `ttlMs` (5 s) for at most `maxPeers` (10,000) peers. */
  earlyBuffer?: { ttlMs?: number; maxPeers?: number };
  /** `send()` returns false while the socket has this many unsent bytes (default 1 MiB). */
  maxBufferedBytes?: number;
  /** TLS options for `rels://`/`wss://` (e.g. a test CA). */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean; servername?: string };
}

/** The token's bytes (a function is called now; text is base64). */
export function tokenBytes(src: RelayTokenSource): Buffer {
  const value = typeof src === 'function' ? src() : src;
  return typeof value === 'string' ? Buffer.from(value, 'base64') : Buffer.from(value);
}
