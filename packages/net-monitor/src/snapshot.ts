import { isIPv4, isIPv6 } from 'node:net';
import type { DefaultRoute, LocalAddress, NetworkChange, NetworkSnapshot } from './types.js';

/**
 * What a source reads, before the shared rules apply: addresses and routes minus only what the
 * source alone can tell (tentative addresses, links without carrier). `defaultRoutes` is null when
 * routes cannot be read at all (then `online` follows the addresses).
 */
export interface SnapshotParts {
  addresses: LocalAddress[];
  defaultRoutes: DefaultRoute[] | null;
}

/** Loopback, link-local and unspecified addresses are no way out of the host. */
export function isUsableAddress(address: string): boolean {
  if (isIPv4(address)) {
    return !address.startsWith('127.') && !address.startsWith('169.254.') && address !== '0.0.0.0';
  }
  if (!isIPv6(address)) return false;
  const a = address.toLowerCase();
  if (a === '::1' || a === '::') return false;
  return !/^fe[89ab][0-9a-f]:/.test(a); // fe80::/10 (a full first group: `fe8::` is 0fe8::)
}

const addressKey = (a: LocalAddress) => `${a.dev}|${a.family}|${a.address}/${a.prefixLength}`;
const routeKey = (r: DefaultRoute) => `${r.family}|${r.metric}|${r.dev}|${r.gateway ?? ''}|${r.src ?? ''}`;
const byKey =
  <T>(key: (x: T) => string) =>
  (a: T, b: T) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;

/** Applies the rules every monitor shares: usable addresses only, ignored interfaces out, sorted, `online`. */
export function makeSnapshot(parts: SnapshotParts, ignoreInterface: (name: string) => boolean): NetworkSnapshot {
  const addresses = dedupe(
    parts.addresses.filter((a) => isUsableAddress(a.address) && !ignoreInterface(a.dev)),
    addressKey,
  ).sort(byKey(addressKey));
  const defaultRoutes = dedupe(
    (parts.defaultRoutes ?? []).filter((r) => !ignoreInterface(r.dev)),
    routeKey,
  ).sort((a, b) => a.family.localeCompare(b.family) || a.metric - b.metric || byKey(routeKey)(a, b));
  const online = parts.defaultRoutes === null ? addresses.length > 0 : defaultRoutes.length > 0;
  return { addresses, defaultRoutes, online };
}

function dedupe<T>(items: T[], key: (x: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(key(item))) seen.set(key(item), item);
  return [...seen.values()];
}

/** `next` compared with `prev`; null when they are the same. */
export function diffSnapshots(prev: NetworkSnapshot, next: NetworkSnapshot): NetworkChange | null {
  const before = new Set(prev.addresses.map(addressKey));
  const after = new Set(next.addresses.map(addressKey));
  const addressesAdded = next.addresses.filter((a) => !before.has(addressKey(a)));
  const addressesRemoved = prev.addresses.filter((a) => !after.has(addressKey(a)));
  const routes = (s: NetworkSnapshot) => s.defaultRoutes.map(routeKey).join(',');
  const defaultRouteChanged = routes(prev) !== routes(next);
  if (!addressesAdded.length && !addressesRemoved.length && !defaultRouteChanged && prev.online === next.online) {
    return null;
  }
  return {
    addressesAdded,
    addressesRemoved,
    defaultRouteChanged,
    online: next.online,
    wentOffline: prev.online && !next.online,
    cameOnline: !prev.online && next.online,
    snapshot: next,
  };
}
