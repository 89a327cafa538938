import { describe, expect, it } from 'vitest';
import { NetMonitorErrorCodes } from '../src/errors.js';
import { parseIpAddresses, parseIpRoutes } from '../src/ip-json.js';
import { hexToIpv6, parseProcIpv6Route, parseProcRoute, procParts, unusableIpv6 } from '../src/proc.js';
import { isUsableAddress } from '../src/snapshot.js';
import { addr } from './helpers.js';

// Fixtures: what iproute2 6.1 and Linux 6.18 printed in a namespace with a veth pair d0/d0p.
const IP_ADDR = JSON.stringify([
  {
    ifname: 'lo',
    flags: ['LOOPBACK', 'UP', 'LOWER_UP'],
    operstate: 'UNKNOWN',
    addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }],
  },
  {
    ifname: 'd0p',
    flags: ['NO-CARRIER', 'BROADCAST', 'UP'],
    operstate: 'LOWERLAYERDOWN',
    addr_info: [{ family: 'inet', local: '10.9.1.2', prefixlen: 24, scope: 'global' }],
  },
  {
    ifname: 'd0',
    flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    operstate: 'UP',
    addr_info: [
      { family: 'inet', local: '10.9.0.2', prefixlen: 24, scope: 'global', label: 'd0' },
      { family: 'inet6', local: 'fd00:9::2', prefixlen: 64, scope: 'global', nodad: true },
      { family: 'inet6', local: 'fd00:9::3', prefixlen: 64, scope: 'global', tentative: true },
      { family: 'inet6', local: 'fe80::3896:f1ff:fe0f:a13f', prefixlen: 64, scope: 'link' },
      { family: 'bogus' },
      'not an object',
    ],
  },
  { flags: ['UP'] },
]);

describe('ip -json parsers', () => {
  it('addresses on running links, without tentative ones (link-local goes later, in makeSnapshot)', () => {
    expect(parseIpAddresses(IP_ADDR)).toEqual([
      addr('127.0.0.1', 'lo', 8),
      addr('10.9.0.2', 'd0'),
      addr('fd00:9::2', 'd0'),
      addr('fe80::3896:f1ff:fe0f:a13f', 'd0'),
    ]);
  });

  it('default routes: unicast, not linkdown, multipath once per hop, metric and prefsrc kept', () => {
    const v4 = JSON.stringify([
      { dst: 'default', gateway: '10.9.0.1', dev: 'd0', metric: 50, flags: [] },
      { dst: 'default', gateway: '10.9.0.3', dev: 'd0', prefsrc: '10.9.0.2', metric: 60, flags: [] },
      { dst: 'default', gateway: '10.8.0.1', dev: 'd1', flags: ['linkdown'] },
      { type: 'blackhole', dst: 'default', metric: 9999, flags: [] },
      {
        dst: 'default',
        metric: 70,
        flags: [],
        nexthops: [
          { gateway: '10.7.0.1', dev: 'e1', weight: 1, flags: [] },
          { gateway: '10.6.0.1', dev: 'e2', weight: 1, flags: ['dead'] },
        ],
      },
    ]);
    expect(parseIpRoutes(v4, 'ipv4')).toEqual([
      { family: 'ipv4', dev: 'd0', gateway: '10.9.0.1', metric: 50 },
      { family: 'ipv4', dev: 'd0', gateway: '10.9.0.3', src: '10.9.0.2', metric: 60 },
      { family: 'ipv4', dev: 'e1', gateway: '10.7.0.1', metric: 70 },
    ]);
    const v6 = '[{"dst":"default","gateway":"fd00:9::1","dev":"d0","metric":1024,"flags":[],"pref":"medium"}]\n';
    expect(parseIpRoutes(v6, 'ipv6')).toEqual([{ family: 'ipv6', dev: 'd0', gateway: 'fd00:9::1', metric: 1024 }]);
    expect(parseIpRoutes('', 'ipv6')).toEqual([]);
  });

  it('output that is not a JSON array is an ERR_NETMON_READ, not a crash', () => {
    expect(() => parseIpAddresses('Option "-json" is unknown')).toThrow(
      expect.objectContaining({ code: NetMonitorErrorCodes.READ }),
    );
    expect(() => parseIpRoutes('{"dst":"default"}', 'ipv4')).toThrow(
      expect.objectContaining({ code: NetMonitorErrorCodes.READ }),
    );
  });
});

const PROC_ROUTE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
d0\t00000000\t0100090A\t0003\t0\t0\t50\t00000000\t0\t0\t0
d0\t0000090A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
ppp0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0
d0\t00000000\t0100090A\t0201\t0\t0\t0\t00000000\t0\t0\t0
garbage
`;
const PROC_IPV6_ROUTE = `fd000009000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001       d0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000009000000000000000000000001 00000400 00000001 00000000 00000003       d0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
`;
const IF_INET6 = `fd000009000000000000000000000002 03 40 00 80       d0
fd000009000000000000000000000003 03 40 00 c0       d0
fe800000000000003896f1fffe0fa13f 03 40 20 80       d0
`;

describe('/proc parsers', () => {
  it('/proc/net/route: default routes that are up and not rejecting, gateway in dotted quad', () => {
    expect(parseProcRoute(PROC_ROUTE)).toEqual([
      { family: 'ipv4', dev: 'd0', gateway: '10.9.0.1', metric: 50 },
      { family: 'ipv4', dev: 'ppp0', metric: 0 },
    ]);
  });

  it('/proc/net/ipv6_route: ::/0 that is up, not the unreachable null route', () => {
    expect(parseProcIpv6Route(PROC_IPV6_ROUTE)).toEqual([
      { family: 'ipv6', dev: 'd0', gateway: 'fd00:9::1', metric: 1024 },
    ]);
  });

  it('/proc/net/if_inet6: tentative addresses, formatted as Node formats them', () => {
    expect([...unusableIpv6(IF_INET6)]).toEqual(['fd00:9::3']);
    expect(hexToIpv6('20010db8000000000001000000000001')).toBe('2001:db8::1:0:0:1');
  });

  it('procParts: Node lists running links only; their routes count, tentative IPv6 does not', () => {
    const nic = (address: string, family: 'IPv4' | 'IPv6', cidr: string, internal = false) => ({
      address,
      family,
      cidr,
      internal,
      netmask: '',
      mac: '00:00:00:00:00:00',
      ...(family === 'IPv6' ? { scopeid: 0 } : {}),
    });
    const parts = procParts({
      interfaces: {
        lo: [nic('127.0.0.1', 'IPv4', '127.0.0.1/8', true)],
        d0: [
          nic('10.9.0.2', 'IPv4', '10.9.0.2/24'),
          nic('fd00:9::2', 'IPv6', 'fd00:9::2/64'),
          nic('fd00:9::3', 'IPv6', 'fd00:9::3/64'),
        ],
      } as never,
      route: PROC_ROUTE,
      ipv6Route: PROC_IPV6_ROUTE,
      ifInet6: IF_INET6,
    });
    expect(parts.addresses).toEqual([addr('10.9.0.2', 'd0'), addr('fd00:9::2', 'd0')]);
    expect(parts.defaultRoutes!.map((r) => `${r.dev} ${r.gateway}`)).toEqual(['d0 10.9.0.1', 'd0 fd00:9::1']);
    expect(procParts({ interfaces: {}, route: null, ipv6Route: null, ifInet6: null }).defaultRoutes).toBeNull();
  });

  it('usable addresses: not loopback, link-local or unspecified', () => {
    for (const a of ['127.0.0.1', '169.254.1.1', '0.0.0.0', '::1', '::', 'fe80::1', 'febf::1', 'nonsense']) {
      expect(isUsableAddress(a), a).toBe(false);
    }
    for (const a of ['192.0.2.1', '10.0.0.1', '100.64.0.1', '2001:db8::1', 'fd00::1', 'fe8::1', 'fec0::1']) {
      expect(isUsableAddress(a), a).toBe(true);
    }
  });
});
