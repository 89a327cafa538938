import { describe, expect, it } from 'vitest';
import { namespaceNames } from '../src/names.js';
import {
  blockUdpRule,
  dropDirectionRule,
  lossRule,
  natCommands,
  netemCommand,
  nextWanAddress,
  portForwardRule,
  qdiscDeleteCommand,
  tbfCommand,
  topologyCommands,
  topologyRoutes,
} from '../src/topology.js';

const ns = namespaceNames('t1');
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

  it('next WAN address stays in the /24 and skips the gateway', () => {
    expect(nextWanAddress('203.0.113.2')).toBe('203.0.113.3');
    expect(nextWanAddress('203.0.113.254')).toBe('203.0.113.2');
  });
});
