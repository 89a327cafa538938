import { NetMonitorReadError } from './errors.js';
import type { DefaultRoute, IpFamily, LocalAddress } from './types.js';

// Parsers of `ip -json` output (iproute2 ≥ 4.13). Entries that do not look as expected are
// skipped, never thrown: a field a later iproute2 adds or drops must not blind the monitor.

type Json = Record<string, unknown>;

function parseArray(text: string, what: string): Json[] {
  let value: unknown;
  try {
    value = JSON.parse(text.trim() || '[]');
  } catch (err) {
    throw new NetMonitorReadError(`ip printed something other than JSON for ${what}: ${text.slice(0, 200)}`, {
      cause: err,
    });
  }
  if (!Array.isArray(value)) throw new NetMonitorReadError(`ip printed no JSON array for ${what}`);
  return value.filter((v): v is Json => typeof v === 'object' && v !== null);
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s) => typeof s === 'string') : []);

/**
 * Addresses of `ip -json address show`, on links that are up and running (operstate UP, or
 * UNKNOWN as tun and loopback report it: Node's rule too), minus tentative and DAD-failed ones.
 */
export function parseIpAddresses(text: string): LocalAddress[] {
  const out: LocalAddress[] = [];
  for (const link of parseArray(text, 'addresses')) {
    const dev = link.ifname;
    const running = link.operstate === 'UP' || link.operstate === 'UNKNOWN';
    if (typeof dev !== 'string' || !running || !strings(link.flags).includes('UP')) continue;
    for (const info of Array.isArray(link.addr_info) ? (link.addr_info as unknown[]) : []) {
      if (typeof info !== 'object' || info === null) continue;
      const a = info as Json;
      const family = a.family === 'inet' ? 'ipv4' : a.family === 'inet6' ? 'ipv6' : undefined;
      if (!family || typeof a.local !== 'string' || typeof a.prefixlen !== 'number') continue;
      if (a.tentative === true || a.dadfailed === true) continue;
      out.push({ address: a.local, family, prefixLength: a.prefixlen, dev });
    }
  }
  return out;
}

/**
 * Default routes of `ip -4|-6 -json route show default` that carry traffic: unicast (not
 * unreachable or blackhole) and not `linkdown`/`dead`. Multipath routes count once per next hop.
 */
export function parseIpRoutes(text: string, family: IpFamily): DefaultRoute[] {
  const out: DefaultRoute[] = [];
  for (const r of parseArray(text, `${family} routes`)) {
    if (r.dst !== 'default' || (r.type !== undefined && r.type !== 'unicast')) continue;
    const metric = typeof r.metric === 'number' ? r.metric : 0;
    const hops = Array.isArray(r.nexthops) ? (r.nexthops as unknown[]) : [r];
    for (const hop of hops) {
      if (typeof hop !== 'object' || hop === null) continue;
      const h = hop as Json;
      const flags = [...strings(r.flags), ...strings(h.flags)];
      if (typeof h.dev !== 'string' || flags.includes('linkdown') || flags.includes('dead')) continue;
      const route: DefaultRoute = { family, dev: h.dev, metric };
      if (typeof h.gateway === 'string') route.gateway = h.gateway;
      if (typeof r.prefsrc === 'string') route.src = r.prefsrc;
      out.push(route);
    }
  }
  return out;
}
