import type { LabNamespaces, NatRole, PeerRole, Role } from './names.js';

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
  // peerA's second uplink (`uplinks: 2`): its own LAN, and a WAN in the benchmarking range
  // (RFC 2544, 198.18.0.0/15): the three TEST-NETs are taken by natA, natB and svc.
  peerA2: '10.0.3.2',
  natCLan: '10.0.3.1',
  natCWan: '198.18.0.2',
  inetC: '198.18.0.1',
} as const;
export type LabAddresses = { -readonly [K in keyof typeof BASE_ADDR]: string };

/** The subnet svc lives on; fault rules spare it unless told otherwise (relay/STUN stay reachable). */
export const SVC_NET = '192.0.2.0/25';
export const WAN_PREFIX = 24;

/** Prefix length of every peer LAN. */
export const LAN_PREFIX = 24;

/**
 * In-namespace interface names. werift skips names starting with veth/tun/tap, so peers use `eth0`
 * (and `eth1` for a second uplink); NATs have `lan0` (towards the peer) and `wan0` (towards inet).
 */
export const DEV = {
  peer: 'eth0',
  peer2: 'eth1',
  natLan: 'lan0',
  natWan: 'wan0',
  inetA: 'ethA',
  inetB: 'ethB',
  inetC: 'ethC',
  inetSvc: 'ethS',
  svc: 'eth0',
} as const;

/** A NAT: which peer sits behind it, its WAN address (key into the lab's addresses) and its gateway in inet. */
export interface NatInfo {
  nat: NatRole;
  peer: PeerRole;
  wanKey: 'natAWan' | 'natBWan' | 'natCWan';
  lanNet: string;
  gateway: string;
}

/** Every NAT a lab can have (natC only with `uplinks: 2`). */
export const NATS: Record<NatRole, NatInfo> = {
  natA: { nat: 'natA', peer: 'peerA', wanKey: 'natAWan', lanNet: '10.0.1.0/24', gateway: BASE_ADDR.inetA },
  natB: { nat: 'natB', peer: 'peerB', wanKey: 'natBWan', lanNet: '10.0.2.0/24', gateway: BASE_ADDR.inetB },
  natC: { nat: 'natC', peer: 'peerA', wanKey: 'natCWan', lanNet: '10.0.3.0/24', gateway: BASE_ADDR.inetC },
};

/** A peer's way out: its interface to a NAT, its address there and the NAT's LAN address (its gateway). */
export interface Uplink {
  peer: PeerRole;
  /** 1 is the uplink every lab has and the one a peer starts on. */
  index: number;
  nat: NatRole;
  dev: string;
  addrKey: 'peerA' | 'peerB' | 'peerA2';
  gatewayKey: 'natALan' | 'natBLan' | 'natCLan';
}

/** Every uplink a lab can have; one exists when its NAT's namespace does. */
export const UPLINKS: readonly Uplink[] = [
  { peer: 'peerA', index: 1, nat: 'natA', dev: DEV.peer, addrKey: 'peerA', gatewayKey: 'natALan' },
  { peer: 'peerB', index: 1, nat: 'natB', dev: DEV.peer, addrKey: 'peerB', gatewayKey: 'natBLan' },
  { peer: 'peerA', index: 2, nat: 'natC', dev: DEV.peer2, addrKey: 'peerA2', gatewayKey: 'natCLan' },
];

/** The uplink `index` of `peer`, or undefined when the topology has none. */
export function findUplink(peer: PeerRole, index: number): Uplink | undefined {
  return UPLINKS.find((u) => u.peer === peer && u.index === index);
}

/** The uplink that goes through `nat`. */
export function uplinkVia(nat: NatRole): Uplink {
  return UPLINKS.find((u) => u.nat === nat)!;
}

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
  /** The a side is an uplink the peer has not roamed to: created, but down and without its address. */
  aStandby?: boolean;
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
  {
    a: 'peerA',
    aDev: DEV.peer2,
    aAddr: `${BASE_ADDR.peerA2}/${LAN_PREFIX}`,
    b: 'natC',
    bDev: DEV.natLan,
    bAddr: `${BASE_ADDR.natCLan}/${LAN_PREFIX}`,
    aStandby: true,
  },
  {
    a: 'natC',
    aDev: DEV.natWan,
    aAddr: `${BASE_ADDR.natCWan}/24`,
    b: 'inet',
    bDev: DEV.inetC,
    bAddr: `${BASE_ADDR.inetC}/24`,
  },
];

/** The NATs this lab's namespaces include. */
function natsIn(ns: LabNamespaces): NatRole[] {
  return (Object.keys(NATS) as NatRole[]).filter((n) => ns[n] !== undefined);
}

/**
 * Default routes; re-applied after `linkUp` because bringing a link down deletes its routes. Each
 * peer's goes through the uplink it is on now (`uplinks`, default 1).
 */
export function topologyRoutes(ns: LabNamespaces, uplinks: Partial<Record<PeerRole, number>> = {}): Route[] {
  const def = (role: Role, dev: string, via: string): Route => ({
    role,
    dev,
    argv: ipIn(ns[role]!, 'route', 'replace', 'default', 'via', via, 'dev', dev),
  });
  const peers = (['peerA', 'peerB'] as const).map((p) => findUplink(p, uplinks[p] ?? 1)!);
  return [
    ...peers.map((u) => def(u.peer, u.dev, BASE_ADDR[u.gatewayKey])),
    ...natsIn(ns).map((nat) => def(nat, DEV.natWan, NATS[nat].gateway)),
    def('svc', DEV.svc, BASE_ADDR.inetSvc),
  ];
}

/** Everything after `ip netns add`: links, addresses, routes, forwarding and the NATs, in order. */
export function topologyCommands(ns: LabNamespaces, nats: Partial<Record<NatRole, NatKind>>): Argv[] {
  const cmds: Argv[] = [];
  const has = (role: Role) => ns[role] !== undefined;
  for (const name of Object.values(ns)) cmds.push(ipIn(name, 'link', 'set', 'lo', 'up'));
  for (const l of LINKS.filter((x) => has(x.a) && has(x.b))) {
    const a = ns[l.a]!;
    const b = ns[l.b]!;
    // Created directly inside the namespaces: no host-side names to collide with other labs.
    cmds.push(['ip', 'link', 'add', l.aDev, 'netns', a, 'type', 'veth', 'peer', 'name', l.bDev, 'netns', b]);
    if (!l.aStandby) cmds.push(ipIn(a, 'addr', 'add', l.aAddr, 'dev', l.aDev));
    cmds.push(ipIn(b, 'addr', 'add', l.bAddr, 'dev', l.bDev));
    if (!l.aStandby) cmds.push(ipIn(a, 'link', 'set', l.aDev, 'up'));
    cmds.push(ipIn(b, 'link', 'set', l.bDev, 'up'));
  }
  for (const r of topologyRoutes(ns)) cmds.push(r.argv);
  for (const role of [...natsIn(ns), 'inet'] as const) {
    cmds.push(inNs(ns[role]!, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']));
  }
  for (const nat of natsIn(ns)) cmds.push(...natCommands(ns[nat]!, nats[nat] ?? 'cone'));
  return cmds;
}

/**
 * A peer moves from uplink `from` to `to` in the order a real roam happens: the new link comes up
 * and gets its address, the default route moves to the new NAT, then the old link loses its
 * address and goes down.
 */
export function roamCommands(ns: LabNamespaces, from: Uplink, to: Uplink): Argv[] {
  const peer = ns[to.peer];
  return [
    ipIn(peer, 'link', 'set', to.dev, 'up'),
    ipIn(peer, 'addr', 'add', `${BASE_ADDR[to.addrKey]}/${LAN_PREFIX}`, 'dev', to.dev),
    ipIn(peer, 'route', 'replace', 'default', 'via', BASE_ADDR[to.gatewayKey], 'dev', to.dev),
    ipIn(peer, 'addr', 'del', `${BASE_ADDR[from.addrKey]}/${LAN_PREFIX}`, 'dev', from.dev),
    ipIn(peer, 'link', 'set', from.dev, 'down'),
  ];
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

/** Matches UDP through a NAT; peer↔peer only (svc spared) unless `all`. */
function udpMatch(all: boolean): RuleSpec {
  return ['-p', 'udp', ...(all ? [] : ['!', '-s', SVC_NET, '!', '-d', SVC_NET])];
}

const dropAs = (comment: string): RuleSpec => ['-m', 'comment', '--comment', comment, '-j', 'DROP'];

/** Drops peer↔peer UDP through a NAT; svc (relay, STUN/TURN) stays reachable unless `all`. */
export function blockUdpRule(all: boolean): RuleSpec {
  return [...udpMatch(all), ...dropAs('meshlab-block-udp')];
}

/** STUN's magic cookie (RFC 5389) at UDP payload offset 4: ICE checks and consent requests carry it. */
export const STUN_COOKIE_U32 = '0>>22&0x3C@12=0x2112A442';

/**
 * Drops STUN only (xt_u32: the IP header length, then the cookie 12 bytes into the UDP header);
 * WireGuard (type byte, 3 zero bytes, then an index) and the agents' probes (0xFF 'm' 'p' 1, kind,
 * zeros) never carry the cookie there. Peer↔peer only unless `all`.
 */
export function dropStunRule(all: boolean): RuleSpec {
  return [...udpMatch(all), '-m', 'u32', '--u32', STUN_COOKIE_U32, ...dropAs('meshlab-drop-stun')];
}

/** Random loss of UDP through a NAT (a UDP-throttling ISP, §21); peer↔peer only unless `all`. */
export function udpLossRule(lossPct: number, all: boolean): RuleSpec {
  const p = lossProbability(lossPct);
  return [...udpMatch(all), '-m', 'statistic', '--mode', 'random', '--probability', p, ...dropAs('meshlab-udp-loss')];
}

/** A loss percentage as iptables' statistic probability (clamped to 0..1, four decimals). */
function lossProbability(lossPct: number): string {
  return Math.min(1, Math.max(0, lossPct / 100)).toFixed(4);
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
  const p = lossProbability(lossPct);
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
