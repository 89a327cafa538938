import { Lab } from '@mesh/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateKeyPair,
  type HandshakeTimeoutInfo,
  HandshakeWatcher,
  UapiDevice,
  type WgPeerConfig,
} from '../../src/index.js';

/**
 * One wireguard-go device carrying many peers, each with a HandshakeWatcher polling it — what one
 * agent with N peers does. Start-up is run under event-loop load like an agent's (dozens of ICE
 * sessions and signaling messages at once): while the queue's deadline counted the wait, the last
 * of 50 upserts timed out there (`UAPI request … timed out`).
 */
describe.each([50, 200])('UapiDevice with %i peers and as many watchers (wireguard-go in the lab)', (n) => {
  let lab: Lab;
  let ifname: string;
  const watchers: HandshakeWatcher[] = [];
  const timeouts: HandshakeTimeoutInfo[] = [];

  beforeAll(async () => {
    lab = await Lab.create({ natA: 'cone', natB: 'cone' });
    ifname = (
      await lab.startWireguardGo('peerA', { address: '100.64.0.1/16', privateKey: generateKeyPair().privateKey })
    ).ifname;
  });
  afterAll(async () => {
    for (const w of watchers.splice(0)) w.stop();
    await lab?.destroy();
  });

  const endpoint = (i: number, port: number) => `127.0.0.1:${port + i}`;
  const allowed = (i: number) => `100.64.${Math.floor(i / 250) + 1}.${(i % 250) + 1}/32`;

  it('starts every peer at once under event-loop load: no request times out, every peer is configured', async () => {
    const device = new UapiDevice(ifname, { timeoutMs: 1_000 });
    const peers = Array.from({ length: n }, () => generateKeyPair().publicKey);
    // Event-loop load: a 60 ms block in every loop turn, bounded to 40 blocks (2.4 s).
    let blocks = 0;
    const load = setInterval(() => {
      if (++blocks >= 40) clearInterval(load);
      const until = performance.now() + 60;
      while (performance.now() < until) {}
    }, 10);
    try {
      // As PeerConn.start(): watcher baseline first, then the peer's config, all peers concurrently.
      await Promise.all(
        peers.map(async (peer, i) => {
          const w = new HandshakeWatcher({ device, peer, checkIntervalMs: 500, firstHandshakeTimeoutMs: 600_000 });
          watchers.push(w);
          w.on('handshake-timeout', (info) => timeouts.push(info));
          await w.start();
          await device.upsertPeer({
            publicKey: peer,
            endpoint: endpoint(i, 20_000),
            allowedIps: [allowed(i)],
            persistentKeepalive: 25,
          });
        }),
      );
      // The upserts waiting together went to wireguard-go as multi-peer sets.
      expect(device.stats.batchedWrites).toBeGreaterThan(n / 2);
      // Writes that cannot be batched (each followed by a read) still under load: 2N requests in a
      // row, one per loop turn. Timed from when each is sent, none times out; counted from the
      // call, as before, the later ones would have (they wait longer than the 1 s deadline).
      const reads = await Promise.all(
        peers.map(async (peer, i) => {
          const write = device.upsertPeer({ publicKey: peer, endpoint: endpoint(i, 30_000) });
          const read = device.getPeer(peer);
          await write;
          return (await read)?.endpoint;
        }),
      );
      expect(reads).toEqual(peers.map((_, i) => endpoint(i, 30_000)));
      expect(device.stats.maxWaitMs).toBeGreaterThan(1_000);
    } finally {
      clearInterval(load);
    }
    expect(device.stats.timeouts).toBe(0);
    const state = await device.getInterface();
    expect(state.peers).toHaveLength(n);
    for (const [i, peer] of peers.entries()) {
      const p = state.peers.find((x) => x.publicKey.equals(peer));
      expect(p).toMatchObject({ endpoint: endpoint(i, 30_000), allowedIps: [allowed(i)], persistentKeepalive: 25 });
    }
  });

  it('N watchers polling cost O(1) device reads per interval, and reads stay correct while peers change', async () => {
    // A fresh device object (its own request counter) and fresh watchers on it.
    const device = new UapiDevice(ifname, { timeoutMs: 1_000 });
    const peers = watchers.splice(0).map((w) => {
      w.stop();
      return w.peer;
    });
    for (const peer of peers) {
      const w = new HandshakeWatcher({ device, peer, checkIntervalMs: 500, firstHandshakeTimeoutMs: 600_000 });
      watchers.push(w);
      w.on('handshake-timeout', (info) => timeouts.push(info));
    }
    // Armed over one interval, as PeerConns start at different moments.
    const arming: Promise<void>[] = [];
    for (const w of watchers) {
      arming.push(w.start());
      await new Promise((r) => setTimeout(r, 500 / n));
    }
    await Promise.all(arming);
    // Until the watchers have made 20 requests (bounded: 15 s), then compare with the rounds elapsed.
    const before = device.stats.requests;
    const t0 = performance.now();
    while (device.stats.requests - before < 20 && performance.now() - t0 < 15_000) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const rounds = (performance.now() - t0) / 500;
    const reads = device.stats.requests - before;
    expect(reads).toBeGreaterThanOrEqual(20);
    // One to three shared reads per round (the first watcher's read may already be on the wire, and
    // the timers of one tick spread over a millisecond or two); unaligned, N watchers make N.
    expect(reads).toBeLessThanOrEqual(3 * Math.ceil(rounds) + 2);

    // Writes interleaved with the polling: a read asked for right after a write (not awaited) sees
    // it, for every peer at once.
    const results = await Promise.all(
      peers.map(async (peer, i) => {
        const cfg: WgPeerConfig = { publicKey: peer, endpoint: endpoint(i, 40_000) };
        const write = device.upsertPeer(cfg);
        const read = device.getPeer(peer);
        await write;
        return (await read)?.endpoint;
      }),
    );
    expect(results).toEqual(peers.map((_, i) => endpoint(i, 40_000)));
    expect(device.stats.timeouts).toBe(0);
    expect(timeouts).toEqual([]);
  });
});
