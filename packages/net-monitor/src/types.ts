import type { Clock, Logger, TypedEmitter } from '@mesh/core';
import type { NetMonitorError } from './errors.js';

/** An IP family. */
export type IpFamily = 'ipv4' | 'ipv6';

/** A usable local address: not loopback, not link-local, not tentative, on a link that is up. */
export interface LocalAddress {
  /** The address, as Node prints it (`192.0.2.10`, `2001:db8::10`). */
  address: string;
  /** Its family. */
  family: IpFamily;
  /** Prefix length of the address's subnet. */
  prefixLength: number;
  /** Name of the interface that holds it (`wlan0`). */
  dev: string;
}

/** A default route of the main table on a link that is up. */
export interface DefaultRoute {
  /** Its family. */
  family: IpFamily;
  /** Outgoing interface. */
  dev: string;
  /** Next hop; absent for a route straight onto the link (PPP, tun). */
  gateway?: string;
  /** Preferred source address, when the route names one (the Linux monitor only). */
  src?: string;
  /** Route metric (0 when the kernel reports none); of two default routes the lower one wins. */
  metric: number;
}

/** What a monitor knows about the host's network. */
export interface NetworkSnapshot {
  /** Usable local addresses, sorted by interface, family and address. */
  addresses: LocalAddress[];
  /** Default routes, sorted by family and metric. */
  defaultRoutes: DefaultRoute[];
  /**
   * At least one default route; or, where routes cannot be read (no /proc), at least one usable
   * address. While it is false, retries are pointless: park them until a change brings it back.
   */
  online: boolean;
}

/** One debounced change: the snapshot compared with the one before it (the last one emitted). */
export interface NetworkChange {
  /** Addresses in `snapshot` that were not in the previous one. */
  addressesAdded: LocalAddress[];
  /** Addresses of the previous snapshot that are gone. */
  addressesRemoved: LocalAddress[];
  /** Any default route was added, removed or changed (gateway, interface, source, metric). */
  defaultRouteChanged: boolean;
  /** `snapshot.online`. */
  online: boolean;
  /** It was online before and is not now. */
  wentOffline: boolean;
  /** It was offline before and is online now. */
  cameOnline: boolean;
  /** The state now; `snapshot()` returns it from now on. */
  snapshot: NetworkSnapshot;
}

/** Events of a NetworkMonitor. */
export interface NetworkMonitorEvents {
  /**
   * The network changed. Debounced: a burst of kernel events gives one change, at most one per
   * `maxDelayMs`; a flap that ends where it began gives none.
   */
  change: (change: NetworkChange) => void;
  /**
   * The monitor's preferred way of watching broke (`ERR_NETMON_UNAVAILABLE`, `ERR_NETMON_FAILED`);
   * it carries on by polling, so `change` keeps coming. Emitted at most once per monitor.
   */
  error: (err: NetMonitorError) => void;
}

/** Options of `start()`. */
export interface NetworkMonitorStartOptions {
  /** Aborting it before the first snapshot is known stops the monitor; `start()` rejects `ERR_ABORTED`. */
  signal?: AbortSignal;
}

/**
 * Watches the host's addresses and default routes and reports changes. Implement it for another
 * platform (macOS, Windows) and the agent needs nothing else.
 */
export interface NetworkMonitor extends TypedEmitter<NetworkMonitorEvents> {
  /** Starts watching; resolves once the first snapshot is known. Idempotent; rejects `ERR_CLOSED` after `stop()`. */
  start(options?: NetworkMonitorStartOptions): Promise<void>;
  /** Stops watching and releases every process and timer. Idempotent; nothing is emitted afterwards. */
  stop(): Promise<void>;
  /** The state as of the last `change` (or of `start()`); throws `ERR_NETMON_NOT_STARTED` before that. */
  snapshot(): NetworkSnapshot;
}

/** Options every monitor takes. */
export interface NetworkMonitorOptions {
  /** Clock for every timer; `systemClock` by default. */
  clock?: Clock;
  /** Logger; silent by default. */
  logger?: Logger;
  /** Quiet time after the last raw event before a change is reported (500 ms). */
  debounceMs?: number;
  /** A change is reported at most this long after the first raw event, however long the storm (2000 ms). */
  maxDelayMs?: number;
  /**
   * Interfaces to leave out (their addresses and default routes), e.g. the agent's own WireGuard
   * interface, whose address would otherwise look like a new network. Nothing is left out by default.
   */
  ignoreInterface?: (name: string) => boolean;
}

/** Options of a PollingNetworkMonitor. */
export interface PollingNetworkMonitorOptions extends NetworkMonitorOptions {
  /** How often the state is read (2000 ms); a change is seen within this plus `debounceMs`. */
  intervalMs?: number;
}

/** Options of a LinuxNetworkMonitor. */
export interface LinuxNetworkMonitorOptions extends PollingNetworkMonitorOptions {
  /** The `ip` tool (iproute2); `ip` on PATH by default. `intervalMs` applies only once it has fallen back to polling. */
  ipPath?: string;
}
