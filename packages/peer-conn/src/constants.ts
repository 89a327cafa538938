// PeerConn's defaults in one block (as wireguard-go keeps its timers in device/constants.go).
// WireGuard's own protocol constants come from @mesh/wg-control; these are PeerConn's choices.

/** Guard: first retry after the immediate offer (NetBird: 0.8 s), doubling with ±10 % jitter… */
export const GUARD_INITIAL_MS = 800;
export const GUARD_JITTER = 0.1;
/** …up to a cap drawn once per peer from [30 s, 45 s), so peers that lost a path together spread out. */
export const GUARD_CAP_MIN_MS = 30_000;
export const GUARD_CAP_SPREAD_MS = 15_000;

/** While ICE runs over TURN beside a live relay, the controller retries for a direct pair: 15 s doubling to 10 min. */
export const TURN_UPGRADE_INITIAL_MS = 15_000;
export const TURN_UPGRADE_MAX_MS = 600_000;
export const TURN_UPGRADE_JITTER = 0.2;

/** Follower: how long the controller's home relay stays marked unreachable before a side probe (F-R-12). */
export const RELAY_UNREACHABLE_TTL_MS = 300_000;

/** WireGuard persistent keepalive PeerConn configures: it keeps every path carrying traffic. */
export const PERSISTENT_KEEPALIVE_SEC = 25;

/** Our candidates repeated in each offer/answer (a lost trickle message costs nothing). */
export const MAX_REPEATED_CANDIDATES = 32;
/** Remote candidates remembered as applied, so repeats in every offer cost nothing. */
export const MAX_APPLIED_CANDIDATES = 256;

/**
 * Path quality (probe loss over the endpoint's window). ICE is demoted below the relay when it
 * loses at least LOSSY_PCT of its probes while the relay loses at most its loss minus MARGIN_PCT,
 * for DEMOTE_AFTER_MS on end; it is promoted back once it lost at most CLEAN_PCT for
 * PROMOTE_AFTER_MS and the demotion has lasted its dwell (MIN_DWELL_MS, doubling up to
 * MAX_DWELL_MS while demotions keep recurring within DWELL_MEMORY_MS). At most
 * MAX_SWITCHES_PER_MIN quality switches in any minute, both directions together. When the
 * remote moves its traffic to the relay, ICE is demoted at once if our probes see it lose at
 * least FOLLOW_PCT (one probe in the window of ten), one was answered within ANSWERING_MS (lossy,
 * not dead), and the relay loses less.
 */
export const QUALITY = {
  LOSSY_PCT: 20,
  MARGIN_PCT: 15,
  CLEAN_PCT: 5,
  FOLLOW_PCT: 10,
  ANSWERING_MS: 2_000,
  DEMOTE_AFTER_MS: 1_000,
  PROMOTE_AFTER_MS: 5_000,
  MIN_DWELL_MS: 15_000,
  MAX_DWELL_MS: 300_000,
  DWELL_MEMORY_MS: 600_000,
  MAX_SWITCHES_PER_MIN: 4,
} as const;
