/*
 * RelayServer's default timings and limits, gathered in one place (the timings and buffer bounds
 * can be overridden in RelayServerOptions). The relay protocol's own constants (message sizes, the
 * `/relay` path) live in @mesh/relay-client's protocol module.
 */

/** Address the relay and metrics listeners bind to unless told otherwise. */
export const DEFAULT_HOST = '127.0.0.1';

/** A connection must authenticate within this (NetBird: 10 s). */
export const AUTH_TIMEOUT_MS = 10_000;
/** The server sends a health check every 25 s (NetBird)… */
export const HEALTHCHECK_INTERVAL_MS = 25_000;
/** …and an echo must arrive within each interval + this window (45 s). */
export const HEALTHCHECK_TIMEOUT_MS = 20_000;

/** Per destination: transport is dropped while the receiver has this much unsent (1 MiB). */
export const MAX_BUFFERED_BYTES = 1 << 20;
/** A peer that cannot take even control messages beyond this backlog is disconnected (8 MiB). */
export const MAX_CONTROL_BUFFERED_BYTES = 8 << 20;
/** Graceful stop waits this long for each peer to take the close message. */
export const SHUTDOWN_TIMEOUT_MS = 3_000;

/** Plain HTTP on the relay port is only an upgrade or a 404: slow requests are cut quickly. */
export const HTTP_HEADERS_TIMEOUT_MS = 5_000;
export const HTTP_REQUEST_TIMEOUT_MS = 5_000;
