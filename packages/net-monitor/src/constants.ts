// Defaults of the monitors (see the options' doc comments for what each one does).
export const DEFAULTS = {
  debounceMs: 500,
  maxDelayMs: 2_000,
  intervalMs: 2_000,
  ipPath: 'ip',
  /** One `ip` command of a snapshot: far more than it takes, short enough to notice a hung `ip`. */
  commandTimeoutMs: 3_000,
  /** stop() waits this long for `ip monitor` to exit after SIGTERM before sending SIGKILL. */
  killGraceMs: 1_000,
};

/**
 * Restarts of an `ip monitor` that exited: a jittered ladder (500 ms doubling to 30 s). After
 * `maxRestarts` exits in a row the monitor gives up on `ip` and polls instead; a child that ran
 * for `stableMs` resets the count (a child killed once a day is not "in a row").
 */
export const RESTART = { initialMs: 500, maxMs: 30_000, jitter: 0.2, maxRestarts: 5, stableMs: 60_000 };

/** Snapshot reads of `ip` that fail this many times in a row make the monitor fall back to polling. */
export const READ_FAILURES_BEFORE_FALLBACK = 3;

/** `ip monitor` as a trigger only: iproute2 (6.1 here) ignores `-json` for `monitor` and prints text. */
export const IP_MONITOR_ARGS = ['monitor', 'address', 'link', 'route'] as const;

/**
 * One snapshot: three `ip` processes run together, each printing one JSON array. `ip route show`
 * lists the main table only (policy tables such as wg-quick's are not the host's default route).
 */
export const IP_SNAPSHOT_COMMANDS = {
  addresses: ['-json', 'address', 'show'],
  ipv4Routes: ['-4', '-json', 'route', 'show', 'default'],
  ipv6Routes: ['-6', '-json', 'route', 'show', 'default'],
} as const;

/** What the polling monitor reads (no process is spawned). */
export const PROC_FILES = {
  route: '/proc/net/route',
  ipv6Route: '/proc/net/ipv6_route',
  ifInet6: '/proc/net/if_inet6',
};

/** Route flags of /proc/net/route and /proc/net/ipv6_route (linux/route.h, linux/ipv6_route.h). */
export const RTF = { UP: 0x0001, REJECT: 0x0200 };
/** Address flags of /proc/net/if_inet6 (linux/if_addr.h): not usable yet, or never. */
export const IFA_F = { DADFAILED: 0x08, TENTATIVE: 0x40 };
