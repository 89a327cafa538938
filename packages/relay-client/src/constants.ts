/*
 * RelayClient's default timings and limits, gathered in one place (every one can be overridden in
 * RelayClientOptions). The relay protocol's own constants live in ./protocol/constants.ts.
 */

/** Bound on opening the WebSocket: NetBird's dial timeout. */
export const DIAL_TIMEOUT_MS = 30_000;
/** Bound on the auth reply once the socket is open. */
export const AUTH_TIMEOUT_MS = 8_000;
/** Bound on waiting for the remote peer to come online in `openConn`. */
export const OPEN_TIMEOUT_MS = 30_000;

/** The server health-checks every 25 s (NetBird)… */
export const HEALTHCHECK_INTERVAL_MS = 25_000;
/** …and the connection is dead when none arrived within interval + this (35 s). */
export const HEALTHCHECK_TIMEOUT_MS = 10_000;

/** Sending after this long without receiving anything sends a WebSocket ping… */
export const KEEPALIVE_IDLE_MS = 2_000;
/** …and nothing at all arriving within this of the ping means a half-open socket. */
export const PONG_TIMEOUT_MS = 3_000;

/** Per-conn receive queue while the conn is being opened. */
export const RECEIVE_QUEUE_SIZE = 100;
/** Early messages (before `openConn`): the newest per peer is kept this long (NetBird: 5 s)… */
export const EARLY_BUFFER_TTL_MS = 5_000;
/** …for at most this many peers (NetBird: 10,000). */
export const EARLY_BUFFER_MAX_PEERS = 10_000;
/** `send()` returns false while the socket has this many unsent bytes (1 MiB). */
export const MAX_BUFFERED_BYTES = 1 << 20;
/** Subscribed peers remembered by key, so notifications can name the key (oldest forgotten first). */
export const KNOWN_KEYS = 4_096;
/** How long `close()` lets the close message flush before cutting the socket. */
export const CLOSE_FLUSH_MS = 1_000;
