import type { NatRole, PeerRole, Role } from './names.js';

/** `cone`: MASQUERADE keeps the source port (same mapping for every destination); `symmetric`: `--random-fully`. */
export type NatKind = 'cone' | 'symmetric';

/** Fixed addresses of the baseline topology (field-failures.md); every lab has its own copy in its namespaces. */
export const BASE_ADDR = {
  peerA: '10.0.1.2',
  natALan: '10.0.1.1',
  natAWan: '203.0.113.2',
  inetA: '203.0.113.1',
  natBWan: '198.51.100.2',
  natBLan: '10.0.2.1',
  inetB: '198.51.100.1',
  peerB: '10.0.2.2',
  inetSvc: '192.0.2.1',
  svc: '192.0.2.10',
} as const;
export type LabAddresses = { -readonly [K in keyof typeof BASE_ADDR]: string };

/** The subnet svc lives on; fault rules spare it unless told otherwise (relay/STUN stay reachable). */
export const SVC_NET = '192.0.2.0/25';
export const WAN_PREFIX = 24;

/**
 * In-namespace interface names. werift skips names starting with veth/tun/tap, so peers use `eth0`;
 * NATs have `lan0` (towards the peer) and `wan0` (towards inet).
 */
export const DEV = {
  peer: 'eth0',
  natLan: 'lan0',
  natWan: 'wan0',
  inetA: 'ethA',
  inetB: 'ethB',
  inetSvc: 'ethS',
  svc: 'eth0',
} as const;

export interface NatInfo {
  nat: NatRole;
  peer: PeerRole;
  wanKey: 'natAWan' | 'natBWan';
  lanNet: string;
  gateway: string;
}

export const NATS: Record<NatRole, NatInfo> = {
  natA: { nat: 'natA', peer: 'peerA', wanKey: 'natAWan', lanNet: '10.0.1.0/24', gateway: BASE_ADDR.inetA },
  natB: { nat: 'natB', peer: 'peerB', wanKey: 'natBWan', lanNet: '10.0.2.0/24', gateway: BASE_ADDR.inetB },
};

/** One command line, as argv. */
export type Argv = string[];

export interface Route {
  role: Role;
  dev: string;
  argv: Argv;
}

/** `ip -n NS ...` (no exec needed for iproute2). */
export function ipIn(ns: string, ...args: string[]): Argv {
  return ['ip', '-n', ns, ...args];
}

/** `ip netns exec NS argv...`. */
export function inNs(ns: string, argv: readonly string[]): Argv {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

/** iptables waits for the xtables lock: other labs on the machine run iptables at the same time. */
export function iptablesIn(ns: string, ...args: string[]): Argv {
  return inNs(ns, ['iptables', '-w', '10', ...args]);
}

interface Link {
  a: Role;
  aDev: string;
  aAddr: string;
  b: Role;
  bDev: string;
  bAddr: string;
}

const LINKS: Link[] = [
  {
    a: 'peerA',
    aDev: DEV.peer,
    aAddr: `${BASE_ADDR.peerA}/24`,
    b: 'natA',
    bDev: DEV.natLan,
    bAddr: `${BASE_ADDR.natALan}/24`,
  },
  {
    a: 'natA',
    aDev: DEV.natWan,
    aAddr: `${BASE_ADDR.natAWan}/24`,
    b: 'inet',
    bDev: DEV.inetA,
    bAddr: `${BASE_ADDR.inetA}/24`,
  },
  {
    a: 'natB',
    aDev: DEV.natWan,
    aAddr: `${BASE_ADDR.natBWan}/24`,
    b: 'inet',
    bDev: DEV.inetB,
    bAddr: `${BASE_ADDR.inetB}/24`,
  },
  {
    a: 'peerB',
    aDev: DEV.peer,
    aAddr: `${BASE_ADDR.peerB}/24`,
    b: 'natB',
    bDev: DEV.natLan,
    bAddr: `${BASE_ADDR.natBLan}/24`,
  },
  {
    a: 'svc',
    aDev: DEV.svc,
    aAddr: `${BASE_ADDR.svc}/25`,
    b: 'inet',
    bDev: DEV.inetSvc,
    bAddr: `${BASE_ADDR.inetSvc}/25`,
  },
];

/** Default routes; re-applied after `linkUp` because bringing a link down deletes its routes. */
export function topologyRoutes(ns: Record<Role, string>): Route[] {
  const def = (role: Role, dev: string, via: string): Route => ({
    role,
    dev,
    argv: ipIn(ns[role], 'route', 'replace', 'default', 'via', via, 'dev', dev),
  });
  return [
    def('peerA', DEV.peer, BASE_ADDR.natALan),
    def('peerB', DEV.peer, BASE_ADDR.natBLan),
    def('natA', DEV.natWan, BASE_ADDR.inetA),
    def('natB', DEV.natWan, BASE_ADDR.inetB),
    def('svc', DEV.svc, BASE_ADDR.inetSvc),
  ];
}

/** Everything after `ip netns add`: links, addresses, routes, forwarding and the two NATs, in order. */
export function topologyCommands(ns: Record<Role, string>, nats: Record<NatRole, NatKind>): Argv[] {
  const cmds: Argv[] = [];
  for (const role of Object.keys(ns) as Role[]) cmds.push(ipIn(ns[role], 'link', 'set', 'lo', 'up'));
  for (const l of LINKS) {
    // Created directly inside the namespaces: no host-side names to collide with other labs.
    cmds.push([
      'ip',
      'link',
      'add',
      l.aDev,
      'netns',
      ns[l.a],
      'type',
      'veth',
      'peer',
      'name',
      l.bDev,
      'netns',
      ns[l.b],
    ]);
    cmds.push(ipIn(ns[l.a], 'addr', 'add', l.aAddr, 'dev', l.aDev));
    cmds.push(ipIn(ns[l.b], 'addr', 'add', l.bAddr, 'dev', l.bDev));
    cmds.push(ipIn(ns[l.a], 'link', 'set', l.aDev, 'up'));
    cmds.push(ipIn(ns[l.b], 'link', 'set', l.bDev, 'up'));
  }
  for (const r of topologyRoutes(ns)) cmds.push(r.argv);
  for (const role of ['natA', 'natB', 'inet'] as const) {
    cmds.push(inNs(ns[role], ['sysctl', '-qw', 'net.ipv4.ip_forward=1']));
  }
  for (const nat of ['natA', 'natB'] as const) cmds.push(...natCommands(ns[nat], nats[nat]));
  return cmds;
}

/**
 * The NAT: MASQUERADE on the WAN side (`--random-fully` for symmetric), and the INPUT drop of
 * unsolicited NEW UDP from the WAN that a home router's firewall has. Without that drop, a remote's
 * early check is answered with port-unreachable, its conntrack entry is confirmed, and our own
 * outbound packet is then re-mapped to another port, so hole punching fails (field-failures.md,
 * "Lab facts checked").
 */
export function natCommands(nsName: string, kind: NatKind): Argv[] {
  const masq = ['-t', 'nat', '-A', 'POSTROUTING', '-o', DEV.natWan, '-j', 'MASQUERADE'];
  if (kind === 'symmetric') masq.push('--random-fully');
  return [
    iptablesIn(nsName, ...masq),
    iptablesIn(
      nsName,
      '-A',
      'INPUT',
      '-i',
      DEV.natWan,
      '-p',
      'udp',
      '-m',
      'conntrack',
      '--ctstate',
      'NEW',
      '-j',
      'DROP',
    ),
  ];
}

/** A FORWARD rule (spec without chain) that a fault inserts and later deletes with the same spec. */
export type RuleSpec = string[];

/** Drops peer↔peer UDP through a NAT; svc (relay, STUN/TURN) stays reachable unless `all`. */
export function blockUdpRule(all: boolean): RuleSpec {
  const spare = all ? [] : ['!', '-s', SVC_NET, '!', '-d', SVC_NET];
  return ['-p', 'udp', ...spare, '-m', 'comment', '--comment', 'meshlab-block-udp', '-j', 'DROP'];
}

/** TCP to coturn's port: werift falls back to TURN over TCP when UDP is blocked. */
export function blockTurnTcpRule(): RuleSpec {
  return ['-p', 'tcp', '--dport', '3478', '-m', 'comment', '--comment', 'meshlab-block-turn-tcp', '-j', 'DROP'];
}

export type Direction = 'inbound' | 'outbound';
export type Proto = 'udp' | 'tcp' | 'icmp';

/** Drops one direction through a NAT (inbound = WAN→LAN). svc is spared unless `all`. */
export function dropDirectionRule(direction: Direction, opts: { proto?: Proto; all?: boolean } = {}): RuleSpec {
  const io = direction === 'inbound' ? ['-i', DEV.natWan, '-o', DEV.natLan] : ['-i', DEV.natLan, '-o', DEV.natWan];
  const spare = opts.all ? [] : direction === 'inbound' ? ['!', '-s', SVC_NET] : ['!', '-d', SVC_NET];
  const proto = opts.proto ? ['-p', opts.proto] : [];
  return [...io, ...proto, ...spare, '-m', 'comment', '--comment', `meshlab-drop-${direction}`, '-j', 'DROP'];
}

/** DNAT `wanPort` on the NAT's WAN to the peer behind it. */
export function portForwardRule(peerAddr: string, proto: 'udp' | 'tcp', wanPort: number, peerPort: number): RuleSpec {
  return [
    '-i',
    DEV.natWan,
    '-p',
    proto,
    '--dport',
    String(wanPort),
    '-m',
    'comment',
    '--comment',
    'meshlab-port-forward',
    '-j',
    'DNAT',
    '--to-destination',
    `${peerAddr}:${peerPort}`,
  ];
}

export interface NetemOptions {
  delayMs?: number;
  jitterMs?: number;
  lossPct?: number;
  /** Rate limit, e.g. '10mbit'. */
  rate?: string;
}

/** `tc qdisc replace ... netem ...`. */
export function netemCommand(nsName: string, dev: string, opts: NetemOptions): Argv {
  const args: string[] = [];
  if (opts.delayMs !== undefined || opts.jitterMs !== undefined) {
    args.push('delay', `${opts.delayMs ?? 0}ms`);
    if (opts.jitterMs !== undefined) args.push(`${opts.jitterMs}ms`);
  }
  if (opts.lossPct !== undefined) args.push('loss', `${opts.lossPct}%`);
  if (opts.rate !== undefined) args.push('rate', opts.rate);
  return inNs(nsName, ['tc', 'qdisc', 'replace', 'dev', dev, 'root', 'netem', ...args]);
}

/** Removes whatever root qdisc (netem or tbf) a device has. */
export function qdiscDeleteCommand(nsName: string, dev: string): Argv {
  return inNs(nsName, ['tc', 'qdisc', 'del', 'dev', dev, 'root']);
}

/** Rate limit without netem: a token bucket. */
export function tbfCommand(nsName: string, dev: string, rate: string): Argv {
  return inNs(nsName, [
    'tc',
    'qdisc',
    'replace',
    'dev',
    dev,
    'root',
    'tbf',
    'rate',
    rate,
    'burst',
    '32kb',
    'latency',
    '400ms',
  ]);
}

/**
 * Random loss without netem (kernels built without CONFIG_NET_SCH_NETEM): an iptables statistic
 * drop of packets leaving through `dev`, used in FORWARD and OUTPUT.
 */
export function lossRule(dev: string, lossPct: number): RuleSpec {
  const p = Math.min(1, Math.max(0, lossPct / 100)).toFixed(4);
  return [
    '-o',
    dev,
    '-m',
    'statistic',
    '--mode',
    'random',
    '--probability',
    p,
    '-m',
    'comment',
    '--comment',
    'meshlab-loss',
    '-j',
    'DROP',
  ];
}

/** The next WAN address after `current` in the NAT's /24 (skipping .0, .1 = inet, .255). */
export function nextWanAddress(current: string): string {
  const parts = current.split('.').map(Number);
  const last = parts[3] ?? 2;
  const next = last >= 254 ? 2 : last + 1;
  return [parts[0], parts[1], parts[2], next].join('.');
}
