/*
 * RelayManager's default timings and limits, gathered in one place (all but the retry-hint bound
 * can be overridden in RelayManagerOptions).
 */

/** Home race: URLs dialled at once. */
export const RACE_CONCURRENCY = 7;
/** Home race: the overall bound, and the bound of every single dial (home or foreign). */
export const RACE_TIMEOUT_MS = 30_000;

/** After losing the home: wait this long (jittered like the ladder) and re-dial the lost URL once. */
export const QUICK_RETRY_MS = 1_000;
/**
 * Then full races on this ladder: 1 s ±50 %, ×1.3 per attempt, capped at 30 s. A gentle ×1.3 keeps
 * the gap between attempts small while a restarting server is likely to come back (≈2 s at 5 s after
 * the loss, ≈5 s at 15 s), so a restart costs about a second over its downtime; the 30 s cap (from
 * ~100 s on) and the jitter still spread clients out, and a relay back after a long outage waits
 * 15–45 s for a client's next attempt, not 30–90 s (README).
 */
export const RECONNECT_BACKOFF = { initial: 1_000, max: 30_000, multiplier: 1.3, jitter: 0.5 } as const;
/** `retryHome` acts at most once per this long, however many peers report the server back. */
export const RETRY_HINT_MIN_MS = 15_000;

/** A foreign client with no conns (and no `openConn` in progress) for this long is closed. */
export const FOREIGN_IDLE_MS = 60_000;
/** `reconnect(serverUrl)` acts at most once per this long per server. */
export const FORCED_RECONNECT_MIN_MS = 30_000;

/** FakeRelayNetwork (testing): bound of `openConn`'s wait for the remote peer to come online. */
export const FAKE_OPEN_TIMEOUT_MS = 5_000;
/** FakeRelayNetwork (testing): how long `checkAlive` waits on a half-open server (as RelayClient). */
export const FAKE_PONG_TIMEOUT_MS = 3_000;
