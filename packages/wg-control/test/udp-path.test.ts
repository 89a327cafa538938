import { createSocket } from 'node:dgram';
import { onceEvent } from '@mesh/core';
import { describeDatagramPathContract } from '@mesh/core/testing/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { PeerEndpoint, UdpPath } from '../src/index.js';
import { WgSocketStub, wgMessage } from './helpers.js';

/** Two UdpPaths on loopback aimed at each other. */
async function udpPair(): Promise<[UdpPath, UdpPath]> {
  // Reserve b's port first so a can be aimed at it.
  const b0 = await UdpPath.open({ remoteHost: '127.0.0.1', remotePort: 9, bindHost: '127.0.0.1' });
  const bPort = b0.localAddress.port;
  const a = await UdpPath.open({ remoteHost: '127.0.0.1', remotePort: bPort, bindHost: '127.0.0.1' });
  b0.close();
  const b = await UdpPath.open({
    remoteHost: '127.0.0.1',
    remotePort: a.localAddress.port,
    bindHost: '127.0.0.1',
    bindPort: bPort,
  });
  return [a, b];
}

describeDatagramPathContract('UdpPath', async () => {
  const [a, b] = await udpPair();
  return {
    a,
    b,
    teardown: () => {
      a.close();
      b.close();
    },
  };
});

describe('UdpPath', () => {
  const open: UdpPath[] = [];
  afterEach(() => {
    for (const p of open.splice(0)) p.close();
  });

  it('receives datagrams from its remote only', async () => {
    const [a, b] = await udpPair();
    open.push(a, b);
    const stranger = createSocket('udp4');
    await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', () => r()));
    const heard: string[] = [];
    a.on('data', (d) => heard.push(String(d)));
    // Sent (and queued, had it been accepted) before the friend's datagram.
    await new Promise((r) => stranger.send('intruder', a.localAddress.port, '127.0.0.1', r));
    const marker = onceEvent(a, 'data', { timeoutMs: 3000 });
    b.send(Buffer.from('friend'));
    await marker;
    stranger.close();
    expect(heard).toEqual(['friend']);
  });

  it('rejects a non-IP remote', async () => {
    await expect(UdpPath.open({ remoteHost: 'localhost', remotePort: 1 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
  });
});

describe('PeerEndpoint over real loopback UDP (one process)', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  it('carries WireGuard datagrams both ways and gets probe verdicts over UdpPaths', async () => {
    const wgA = await WgSocketStub.open();
    const wgB = await WgSocketStub.open();
    const [pa, pb] = await udpPair();
    const epA = new PeerEndpoint({ wireguardPort: wgA.port, probeIntervalMs: 100, trustWindowMs: 400 });
    const epB = new PeerEndpoint({ wireguardPort: wgB.port, probeIntervalMs: 100, trustWindowMs: 400 });
    cleanups.push(
      () => wgA.close(),
      () => wgB.close(),
      () => pa.close(),
      () => pb.close(),
      () => epA.stop(),
      () => epB.stop(),
    );
    const addrA = await epA.start();
    const addrB = await epB.start();
    const aliveA = onceEvent(epA, 'path-alive', { timeoutMs: 3000 });
    epA.attach(pa);
    epB.attach(pb);
    epA.setActive(pa);
    epB.setActive(pb);
    await aliveA;
    for (let i = 0; i < 50; i++) wgA.send(wgMessage(4, `a${i}`), addrA);
    for (let i = 0; i < 50; i++) wgB.send(wgMessage(4, `b${i}`), addrB);
    await wgB.waitFor(50);
    await wgA.waitFor(50);
    expect(wgB.received.every((r) => r.from.port === addrB.port)).toBe(true);
    expect(wgA.received.filter((r) => r.data[0] === 0xff)).toEqual([]);
    expect(epA.pathStatus(pa)!.rttMs).toBeLessThan(100);
    // The remote endpoint goes away: A's path turns silent within the trust window (+ one check).
    const t0 = performance.now();
    const silent = onceEvent(epA, 'path-silent', { timeoutMs: 3000 });
    epB.stop();
    const [{ silentForMs }] = await silent;
    expect(silentForMs).toBeGreaterThan(400);
    expect(performance.now() - t0).toBeLessThan(400 + 100 + 1000); // slack for a loaded CI machine
  });
});
