import { it } from 'vitest';
import { createEndpointTunnel, type EndpointTunnel } from '../test/lab/endpoint-tunnel.js';

/**
 * Lab (root): iperf3 TCP throughput and ping RTT through the WireGuard tunnel between peerA and
 * peerB (two cone NATs, port forwards), with WireGuard's endpoint going through the two
 * PeerEndpoints (UdpPath across the lab) and then set directly to the remote — same lab, one run.
 */
async function measure(t: EndpointTunnel, label: string) {
  // Warm up: the first handshake (and a lost first initiation's 5 s retry) is not what we measure.
  for (let i = 0; i < 15; i++) {
    if ((await t.lab.exec('peerA', ['ping', '-c', '1', '-W', '1', '-q', t.b.tunnelIp])).code === 0) break;
  }
  const pingOut = (
    await t.lab.execOk('peerA', ['ping', '-c', '30', '-i', '0.1', '-q', t.b.tunnelIp], { timeoutMs: 20_000 })
  ).stdout;
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(pingOut);
  const server = t.lab.spawn('peerB', ['iperf3', '-s', '-1', '--forceflush', '-B', t.b.tunnelIp], {
    name: `iperf3-server:${label}`,
  });
  try {
    await server.waitForLine(/Server listening/, { timeoutMs: 10_000 });
    const client = await t.lab.execOk('peerA', ['iperf3', '-c', t.b.tunnelIp, '-t', '5', '-J'], { timeoutMs: 30_000 });
    const report = JSON.parse(client.stdout) as {
      end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits?: number } };
    };
    const endpoints = [
      (await t.a.device.getPeer(t.b.keys.publicKey))!.endpoint,
      (await t.b.device.getPeer(t.a.keys.publicKey))!.endpoint,
    ];
    return {
      mode: label,
      wireguardEndpoints: endpoints,
      pingRttMs: rtt ? { min: Number(rtt[1]), avg: Number(rtt[2]), max: Number(rtt[3]) } : null,
      tcpMbitPerSecond: Number((report.end.sum_received.bits_per_second / 1e6).toFixed(1)),
      tcpRetransmits: report.end.sum_sent.retransmits ?? null,
    };
  } finally {
    await server.stop();
  }
}

it('tunnel throughput and RTT: through PeerEndpoints vs direct', { timeout: 170_000 }, async () => {
  const t = await createEndpointTunnel({ paths: 1, socketBufferBytes: 4 << 20 });
  try {
    // Through the endpoints first, on a fresh tunnel: once WireGuard talked directly it could roam
    // back to the direct address on a stray packet.
    await t.configureViaEndpoints();
    const via = await measure(t, 'via-peer-endpoints');
    const cpuA = await t.a.status();
    // Stop the agents so nothing reaches WireGuard from 127.0.0.1 any more, then go direct.
    await t.a.agent.stop();
    await t.b.agent.stop();
    await t.configureDirect();
    const direct = await measure(t, 'direct');
    const ratio = {
      throughput: Number((via.tcpMbitPerSecond / direct.tcpMbitPerSecond).toFixed(2)),
      rttAvg: via.pingRttMs && direct.pingRttMs ? Number((via.pingRttMs.avg / direct.pingRttMs.avg).toFixed(2)) : null,
    };
    console.log(`direct:             ${direct.tcpMbitPerSecond} Mbit/s, ping avg ${direct.pingRttMs?.avg} ms`);
    console.log(`via PeerEndpoints:  ${via.tcpMbitPerSecond} Mbit/s, ping avg ${via.pingRttMs?.avg} ms`);
    console.log(`ratio via/direct:   throughput ${ratio.throughput}, RTT ${ratio.rttAvg}`);
    console.log(
      JSON.stringify({ bench: 'tunnel-direct-vs-peer-endpoints', direct, via, ratio, endpointAStats: cpuA.stats }),
    );
  } finally {
    await t.destroy();
  }
});
