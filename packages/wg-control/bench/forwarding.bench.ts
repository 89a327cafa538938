import { createSocket, type Socket } from 'node:dgram';
import { it } from 'vitest';
import { PeerEndpoint, UdpPath } from '../src/index.js';

/**
 * Raw PeerEndpoint forwarding rate on loopback, one process: "WireGuard" A → PeerEndpoint A →
 * UdpPath → UdpPath → PeerEndpoint B → "WireGuard" B, with a window of packets in flight.
 */
async function bind(): Promise<Socket> {
  const s = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

async function run(size: number, seconds: number, window: number) {
  const wgA = await bind();
  const wgB = await bind();
  const pathA0 = await UdpPath.open({
    remoteHost: '127.0.0.1',
    remotePort: 9,
    bindHost: '127.0.0.1',
    socketBufferBytes: 4 << 20,
  });
  const portA = pathA0.localAddress.port;
  pathA0.close();
  const pathB = await UdpPath.open({
    remoteHost: '127.0.0.1',
    remotePort: portA,
    bindHost: '127.0.0.1',
    socketBufferBytes: 4 << 20,
  });
  const pathA = await UdpPath.open({
    remoteHost: '127.0.0.1',
    remotePort: pathB.localAddress.port,
    bindHost: '127.0.0.1',
    bindPort: portA,
    socketBufferBytes: 4 << 20,
  });
  const epA = new PeerEndpoint({ wireguardPort: wgA.address().port, socketBufferBytes: 4 << 20 });
  const epB = new PeerEndpoint({ wireguardPort: wgB.address().port, socketBufferBytes: 4 << 20 });
  const addrA = await epA.start();
  await epB.start();
  epA.attach(pathA);
  epB.attach(pathB);
  epA.setActive(pathA);
  epB.setActive(pathB);

  const packet = Buffer.alloc(size, 0xab);
  packet.set([4, 0, 0, 0]);
  let sent = 0;
  let received = 0;
  let written = 0; // sends the kernel accepted
  let lostAllowance = 0;
  wgB.on('message', () => {
    received++;
  });
  const start = performance.now();
  const end = start + seconds * 1000;
  let lastReceived = 0;
  let lastProgress = start;
  await new Promise<void>((resolve) => {
    const pump = () => {
      const now = performance.now();
      if (now >= end) return resolve();
      if (received !== lastReceived) {
        lastReceived = received;
        lastProgress = now;
      } else if (now - lastProgress > 50) {
        lostAllowance = sent - received; // the window stalled: count what is in flight as lost
        lastProgress = now;
      }
      while (sent - received - lostAllowance < window) {
        sent++;
        wgA.send(packet, addrA.port, '127.0.0.1', () => {
          written++;
        });
      }
      setImmediate(pump);
    };
    pump();
  });
  const elapsed = (performance.now() - start) / 1000;
  const result = {
    packetBytes: size,
    seconds: Number(elapsed.toFixed(2)),
    window,
    sent,
    written,
    delivered: received,
    packetsPerSecond: Math.round(received / elapsed),
    mbitPerSecond: Number(((received * size * 8) / elapsed / 1e6).toFixed(1)),
    endpointA: epA.stats,
  };
  epA.stop();
  epB.stop();
  pathA.close();
  pathB.close();
  wgA.close();
  wgB.close();
  return result;
}

it('PeerEndpoint forwarding rate (loopback, one process)', { timeout: 60_000 }, async () => {
  const results = [];
  for (const size of [100, 1400]) results.push(await run(size, 3, 256));
  for (const r of results) {
    console.log(
      `${r.packetBytes} B packets: ${r.packetsPerSecond} packets/s (${r.mbitPerSecond} Mbit/s) through two PeerEndpoints and one UdpPath hop`,
    );
  }
  console.log(JSON.stringify({ bench: 'peer-endpoint-forwarding', results }));
});
