import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { IFA_F, PROC_FILES, RTF } from './constants.js';
import type { SnapshotParts } from './snapshot.js';
import type { DefaultRoute, LocalAddress } from './types.js';

/** What readProcParts reads; tests pass fixtures. */
export interface ProcInputs {
  interfaces: ReturnType<typeof networkInterfaces>;
  /** Contents of each PROC_FILES entry, or null when it cannot be read (not Linux, IPv6 disabled). */
  route: string | null;
  ipv6Route: string | null;
  ifInet6: string | null;
}

/** The state without spawning anything: os.networkInterfaces() and three files under /proc/net. */
export async function readProcInputs(): Promise<ProcInputs> {
  const read = (file: string) => readFile(file, 'utf8').catch(() => null);
  const [route, ipv6Route, ifInet6] = await Promise.all([
    read(PROC_FILES.route),
    read(PROC_FILES.ipv6Route),
    read(PROC_FILES.ifInet6),
  ]);
  return { interfaces: networkInterfaces(), route, ipv6Route, ifInet6 };
}

/**
 * Node (libuv) lists only interfaces that are up and running (carrier), so an unplugged link's
 * addresses are gone and its default routes are dropped here, as the kernel's `linkdown` flag
 * drops them for the Linux monitor. /proc/net/if_inet6 tells which IPv6 addresses are still
 * tentative (duplicate address detection): binding one fails, so it is not usable yet.
 */
export function procParts(inputs: ProcInputs): SnapshotParts {
  const unusable = inputs.ifInet6 === null ? new Set<string>() : unusableIpv6(inputs.ifInet6);
  const addresses: LocalAddress[] = [];
  for (const [dev, list] of Object.entries(inputs.interfaces)) {
    for (const info of list ?? []) {
      // Node 18.0–18.3 reported the family as a number.
      const family = info.family === 'IPv4' || (info.family as unknown) === 4 ? 'ipv4' : 'ipv6';
      if (info.internal || (family === 'ipv6' && unusable.has(info.address))) continue;
      const prefixLength = Number(info.cidr?.split('/')[1] ?? Number.NaN);
      if (!Number.isInteger(prefixLength)) continue;
      addresses.push({ address: info.address, family, prefixLength, dev });
    }
  }
  if (inputs.route === null && inputs.ipv6Route === null) return { addresses, defaultRoutes: null };
  const running = new Set(Object.keys(inputs.interfaces));
  const defaultRoutes = [...parseProcRoute(inputs.route ?? ''), ...parseProcIpv6Route(inputs.ipv6Route ?? '')].filter(
    (r) => running.has(r.dev),
  );
  return { addresses, defaultRoutes };
}

const usableRoute = (flags: number) => (flags & RTF.UP) !== 0 && (flags & RTF.REJECT) === 0;

/** Default routes of /proc/net/route (main table; addresses in host byte order, hex). */
export function parseProcRoute(text: string): DefaultRoute[] {
  const out: DefaultRoute[] = [];
  for (const line of text.split('\n').slice(1)) {
    const [dev, dst, gw, flags, , , metric, mask] = line.trim().split(/\s+/);
    if (!dev || dst !== '00000000' || mask !== '00000000' || !/^[0-9a-f]{8}$/i.test(gw ?? '') || !flags) continue;
    if (!usableRoute(Number.parseInt(flags, 16))) continue;
    const route: DefaultRoute = { family: 'ipv4', dev, metric: Number.parseInt(metric ?? '', 10) || 0 };
    if (gw !== '00000000') route.gateway = hexToIpv4(gw!);
    out.push(route);
  }
  return out;
}

const ZERO128 = '0'.repeat(32);
const HEX128 = /^[0-9a-f]{32}$/i;

/** Default routes of /proc/net/ipv6_route: `::/0` entries that are up and not unreachable. */
export function parseProcIpv6Route(text: string): DefaultRoute[] {
  const out: DefaultRoute[] = [];
  for (const line of text.split('\n')) {
    const [dst, dstLen, , , nextHop, metric, , , flags, dev] = line.trim().split(/\s+/);
    if (!dev || dst !== ZERO128 || dstLen !== '00' || !HEX128.test(nextHop ?? '') || !metric || !flags) continue;
    if (!usableRoute(Number.parseInt(flags, 16))) continue;
    const route: DefaultRoute = { family: 'ipv6', dev, metric: Number.parseInt(metric, 16) || 0 };
    if (nextHop !== ZERO128) route.gateway = hexToIpv6(nextHop!);
    out.push(route);
  }
  return out;
}

/** IPv6 addresses of /proc/net/if_inet6 that are tentative or failed duplicate address detection. */
export function unusableIpv6(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const [hex, , , , flags] = line.trim().split(/\s+/);
    if (!HEX128.test(hex ?? '') || !flags) continue;
    if ((Number.parseInt(flags, 16) & (IFA_F.TENTATIVE | IFA_F.DADFAILED)) !== 0) out.add(hexToIpv6(hex!));
  }
  return out;
}

/** `0100090A` (little-endian, as /proc/net/route prints it) → `10.9.0.1`. */
export function hexToIpv4(hex: string): string {
  const n = Number.parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.');
}

/** 32 hex digits (checked by the caller) → the compressed form Node and `ip` print (the URL parser applies RFC 5952). */
export function hexToIpv6(hex: string): string {
  const groups = hex.toLowerCase().match(/.{4}/g)?.join(':') ?? '';
  return new URL(`http://[${groups}]/`).hostname.slice(1, -1);
}
