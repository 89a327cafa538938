import { describe, expect, it } from 'vitest';
import { namespaceNames } from '../src/names.js';
import {
  blockUdpRule,
  dropDirectionRule,
  dropStunRule,
  findUplink,
  lossRule,
  natCommands,
  netemCommand,
  nextWanAddress,
  portForwardRule,
  qdiscDeleteCommand,
  roamCommands,
  tbfCommand,
  topologyCommands,
  topologyRoutes,
  udpLossRule,
  uplinkVia,
} from '../src/topology.js';

const ns = namespaceNames('t1');
const ns2 = namespaceNames('t1', ['natC']);
const lines = (cmds: string[][]) => cmds.map((c) => c.join(' '));

describe('topology commands', () => {
  it('creates every veth inside the namespaces with non-veth names, and addresses them', () => {
    const cmds = lines(topologyCommands(ns, { natA: 'cone', natB: 'cone' }));
    expect(cmds).toContain('ip link add eth0 netns mt1-peerA type veth peer name lan0 netns mt1-natA');
    expect(cmds).toContain('ip link add wan0 netns mt1-natA type veth peer name ethA netns mt1-inet');
    expect(cmds).toContain('ip link add eth0 netns mt1-svc type veth peer name ethS netns mt1-inet');
    expect(cmds.filter((c) => c.includes('type veth'))).toHaveLength(5);
    expect(cmds.some((c) => /\b(veth|tun|tap)/.test(c.replace('type veth', '')))).toBe(false);
    expect(cmds).toContain('ip -n mt1-natA addr add 203.0.113.2/24 dev wan0');
    expect(cmds).toContain('ip -n mt1-svc addr add 192.0.2.10/25 dev eth0');
    expect(cmds).toContain('ip -n mt1-peerB route replace default via 10.0.2.1 dev eth0');
    expect(cmds).toContain('ip netns exec mt1-inet sysctl -qw net.ipv4.ip_forward=1');
    // veths exist before their addresses, routes after the links
    const firstRoute = cmds.findIndex((c) => c.includes('route replace'));
    const lastLink = cmds.findLastIndex((c) => c.includes('type veth'));
    expect(firstRoute).toBeGreaterThan(lastLink);
  });

  it('cone is MASQUERADE, symmetric adds --random-fully; both drop unsolicited NEW UDP on the WAN', () => {
    const cone = lines(natCommands('n', 'cone'));
    const sym = lines(natCommands('n', 'symmetric'));
    expect(cone[0]).toBe('ip netns exec n iptables -w 10 -t nat -A POSTROUTING -o wan0 -j MASQUERADE');
    expect(sym[0]).toBe('ip netns exec n iptables -w 10 -t nat -A POSTROUTING -o wan0 -j MASQUERADE --random-fully');
    for (const c of [cone, sym]) {
      expect(c[1]).toBe('ip netns exec n iptables -w 10 -A INPUT -i wan0 -p udp -m conntrack --ctstate NEW -j DROP');
    }
    const all = lines(topologyCommands(ns, { natA: 'symmetric', natB: 'cone' }));
    expect(all.filter((c) => c.includes('--random-fully'))).toEqual([
      'ip netns exec mt1-natA iptables -w 10 -t nat -A POSTROUTING -o wan0 -j MASQUERADE --random-fully',
    ]);
  });

  it('routes know their device so linkUp can restore them', () => {
    const r = topologyRoutes(ns).filter((x) => x.role === 'natA');
    expect(r).toEqual([
      { role: 'natA', dev: 'wan0', argv: 'ip -n mt1-natA route replace default via 203.0.113.1 dev wan0'.split(' ') },
    ]);
  });

  it('fault rules spare svc unless all', () => {
    expect(blockUdpRule(false).join(' ')).toBe(
      '-p udp ! -s 192.0.2.0/25 ! -d 192.0.2.0/25 -m comment --comment meshlab-block-udp -j DROP',
    );
    expect(blockUdpRule(true).join(' ')).toBe('-p udp -m comment --comment meshlab-block-udp -j DROP');
    expect(dropDirectionRule('inbound').join(' ')).toBe(
      '-i wan0 -o lan0 ! -s 192.0.2.0/25 -m comment --comment meshlab-drop-inbound -j DROP',
    );
    expect(dropDirectionRule('outbound', { proto: 'udp', all: true }).join(' ')).toBe(
      '-i lan0 -o wan0 -p udp -m comment --comment meshlab-drop-outbound -j DROP',
    );
    expect(portForwardRule('10.0.2.2', 'udp', 51820, 51821).join(' ')).toBe(
      '-i wan0 -p udp --dport 51820 -m comment --comment meshlab-port-forward -j DNAT --to-destination 10.0.2.2:51821',
    );
  });

  it('netem and its fallbacks', () => {
    expect(netemCommand('n', 'wan0', { delayMs: 80, jitterMs: 20, lossPct: 5 }).join(' ')).toBe(
      'ip netns exec n tc qdisc replace dev wan0 root netem delay 80ms 20ms loss 5%',
    );
    expect(netemCommand('n', 'wan0', { lossPct: 100 }).join(' ')).toBe(
      'ip netns exec n tc qdisc replace dev wan0 root netem loss 100%',
    );
    expect(qdiscDeleteCommand('n', 'wan0').join(' ')).toBe('ip netns exec n tc qdisc del dev wan0 root');
    expect(lossRule('wan0', 30).join(' ')).toBe(
      '-o wan0 -m statistic --mode random --probability 0.3000 -m comment --comment meshlab-loss -j DROP',
    );
    expect(lossRule('wan0', 250)[7]).toBe('1.0000');
    expect(tbfCommand('n', 'wan0', '1mbit').join(' ')).toBe(
      'ip netns exec n tc qdisc replace dev wan0 root tbf rate 1mbit burst 32kb latency 400ms',
    );
  });

  it('a lab without a second uplink has no trace of natC', () => {
    const cmds = lines(topologyCommands(ns, { natA: 'cone', natB: 'cone' }));
    expect(cmds.filter((c) => /natC|eth1|ethC|198\.18\.|10\.0\.3\./.test(c))).toEqual([]);
  });

  it('the second uplink: peerA eth1 (down, no address) to natC, a cone NAT like the others, routed by inet', () => {
    const cmds = lines(topologyCommands(ns2, { natA: 'cone', natB: 'cone' }));
    expect(cmds).toContain('ip link add eth1 netns mt1-peerA type veth peer name lan0 netns mt1-natC');
    expect(cmds).toContain('ip link add wan0 netns mt1-natC type veth peer name ethC netns mt1-inet');
    expect(cmds.filter((c) => c.includes('type veth'))).toHaveLength(7);
    // eth1 is an uplink peerA has not roamed to: created only
    expect(cmds.filter((c) => c.includes('mt1-peerA') && c.includes('eth1'))).toEqual([
      'ip link add eth1 netns mt1-peerA type veth peer name lan0 netns mt1-natC',
    ]);
    expect(cmds).toContain('ip -n mt1-natC addr add 10.0.3.1/24 dev lan0');
    expect(cmds).toContain('ip -n mt1-natC addr add 198.18.0.2/24 dev wan0');
    expect(cmds).toContain('ip -n mt1-inet addr add 198.18.0.1/24 dev ethC');
    expect(cmds).toContain('ip -n mt1-natC link set lo up');
    expect(cmds).toContain('ip -n mt1-natC route replace default via 198.18.0.1 dev wan0');
    expect(cmds).toContain('ip -n mt1-peerA route replace default via 10.0.1.1 dev eth0');
    expect(cmds.filter((c) => c.includes('route replace default') && c.includes('mt1-peerA'))).toHaveLength(1);
    expect(cmds).toContain('ip netns exec mt1-natC sysctl -qw net.ipv4.ip_forward=1');
    expect(cmds).toContain('ip netns exec mt1-natC iptables -w 10 -t nat -A POSTROUTING -o wan0 -j MASQUERADE');
    expect(cmds).toContain(
      'ip netns exec mt1-natC iptables -w 10 -A INPUT -i wan0 -p udp -m conntrack --ctstate NEW -j DROP',
    );
    const sym = lines(topologyCommands(ns2, { natA: 'cone', natB: 'cone', natC: 'symmetric' }));
    expect(sym.filter((c) => c.includes('--random-fully'))).toEqual([
      'ip netns exec mt1-natC iptables -w 10 -t nat -A POSTROUTING -o wan0 -j MASQUERADE --random-fully',
    ]);
  });

  it('roaming: new link up with its address, default route via the new NAT, then the old link loses its address and goes down', () => {
    const one = findUplink('peerA', 1)!;
    const two = findUplink('peerA', 2)!;
    expect(lines(roamCommands(ns2, one, two))).toEqual([
      'ip -n mt1-peerA link set eth1 up',
      'ip -n mt1-peerA addr add 10.0.3.2/24 dev eth1',
      'ip -n mt1-peerA route replace default via 10.0.3.1 dev eth1',
      'ip -n mt1-peerA addr del 10.0.1.2/24 dev eth0',
      'ip -n mt1-peerA link set eth0 down',
    ]);
    expect(lines(roamCommands(ns2, two, one))).toEqual([
      'ip -n mt1-peerA link set eth0 up',
      'ip -n mt1-peerA addr add 10.0.1.2/24 dev eth0',
      'ip -n mt1-peerA route replace default via 10.0.1.1 dev eth0',
      'ip -n mt1-peerA addr del 10.0.3.2/24 dev eth1',
      'ip -n mt1-peerA link set eth1 down',
    ]);
    expect(findUplink('peerB', 2)).toBeUndefined();
    expect(uplinkVia('natC')).toBe(two);
    // linkUp restores the default route of the uplink the peer is on
    const peerA = (u: number) => topologyRoutes(ns2, { peerA: u }).filter((r) => r.role === 'peerA');
    expect(peerA(2).map((r) => r.argv.join(' '))).toEqual([
      'ip -n mt1-peerA route replace default via 10.0.3.1 dev eth1',
    ]);
    expect(peerA(1)[0]!.dev).toBe('eth0');
  });

  it('STUN-only drop and random UDP loss spare svc unless all', () => {
    expect(dropStunRule(false).join(' ')).toBe(
      '-p udp ! -s 192.0.2.0/25 ! -d 192.0.2.0/25 -m u32 --u32 0>>22&0x3C@12=0x2112A442 -m comment --comment meshlab-drop-stun -j DROP',
    );
    expect(dropStunRule(true).join(' ')).toBe(
      '-p udp -m u32 --u32 0>>22&0x3C@12=0x2112A442 -m comment --comment meshlab-drop-stun -j DROP',
    );
    expect(udpLossRule(30, false).join(' ')).toBe(
      '-p udp ! -s 192.0.2.0/25 ! -d 192.0.2.0/25 -m statistic --mode random --probability 0.3000 -m comment --comment meshlab-udp-loss -j DROP',
    );
    expect(udpLossRule(150, true).join(' ')).toBe(
      '-p udp -m statistic --mode random --probability 1.0000 -m comment --comment meshlab-udp-loss -j DROP',
    );
  });

  it('next WAN address stays in the /24 and skips the gateway', () => {
    expect(nextWanAddress('203.0.113.2')).toBe('203.0.113.3');
    expect(nextWanAddress('203.0.113.254')).toBe('203.0.113.2');
  });
});
