import { once } from 'node:events';
import { onceEvent } from '@mesh/core';
import { encodeAuth, generateRelayToken, PeerId } from '@mesh/relay-client';
import { describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { connectClient, openPair, randomKey, rawSocket, roundTrip, SECRET, startServer } from './helpers.js';

describe('F-R-6: a peer that re-authenticates with the same id replaces its old session', () => {
  it('subscribers hear offline then online, drop the dead entry, and a new conn works', async () => {
    const server = await startServer();
    const { ca, cb, a } = await openPair(server);
    const kb = cb.localKey;
    const events: string[] = [];
    ca.on('peer-offline', ({ peerKey }) => events.push(`offline:${peerKey.equals(kb)}`));
    ca.on('peer-online', ({ peerKey }) => events.push(`online:${peerKey.equals(kb)}`));
    const closedA = onceEvent(a, 'close', { timeoutMs: 5000 });
    const oldLost = onceEvent(cb, 'disconnected', { timeoutMs: 5000 });
    const replaced = onceEvent(server, 'peer-connected', {
      timeoutMs: 5000,
      filter: (i: { replaced: boolean }) => i.replaced,
    });
    // B "comes back" from a new network while its old session is still up on the server.
    const cb2 = await connectClient(server, kb);
    await replaced;
    expect((await closedA)[0].reason).toBe('peer-offline');
    await oldLost;
    await expect.poll(() => events, { timeout: 5000 }).toEqual(['offline:true', 'online:true']);
    expect(ca.hasConn(kb)).toBe(false);
    expect(server.metrics().disconnects.replaced).toBe(1);
    const [a2, b2] = await Promise.all([ca.openConn(kb), cb2.openConn(ca.localKey)]);
    await roundTrip(a2, b2, Buffer.from('new session'));
    await roundTrip(b2, a2, Buffer.from('new session, back'));
  });
});

/** Authenticates a raw socket as `id`, then stops reading from it (a stuck receiver). */
async function stuckReceiver(server: Parameters<typeof rawSocket>[0], id: PeerId): Promise<WebSocket> {
  const ws = await rawSocket(server);
  const reply = once(ws, 'message', { signal: AbortSignal.timeout(5000) });
  ws.send(encodeAuth(id, generateRelayToken(SECRET)));
  await reply;
  (ws as unknown as { _socket: { pause(): void } })._socket.pause();
  return ws;
}

describe('F-R-16: a slow or stuck receiver never stalls other traffic', () => {
  it('flooding a stuck peer drops (queue-full) while the sender and other pairs keep flowing', async () => {
    const server = await startServer({ maxBufferedBytes: 64 * 1024 });
    const { ca, a, b } = await openPair(server);
    const other = await openPair(server);
    const stuckKey = randomKey();
    await stuckReceiver(server, PeerId.fromKey(stuckKey));
    const toStuck = await ca.openConn(stuckKey);
    const payload = Buffer.alloc(8000, 0x5a);
    let sent = 0;
    let flowing = 0;
    const deadline = performance.now() + 15_000;
    // Keep pushing at the stuck peer until the server starts dropping for it, while checking that
    // A→B (same sender) and C→D (another pair) round-trip every few batches.
    for (let round = 0; round < 2000 && performance.now() < deadline; round++) {
      for (let i = 0; i < 20; i++) if (toStuck.send(payload)) sent++;
      if (round % 10 === 0) {
        await roundTrip(a, b, Buffer.from(`a→b ${round}`), 2000);
        await roundTrip(other.a, other.b, Buffer.from(`c→d ${round}`), 2000);
        flowing++;
      }
      await new Promise((r) => setImmediate(r));
      if (server.metrics().drops['queue-full'] > 100) break;
    }
    const m = server.metrics();
    expect(m.drops['queue-full']).toBeGreaterThan(100);
    expect(flowing).toBeGreaterThan(0);
    // Still fine after the flood.
    await roundTrip(a, b, Buffer.from('after flood'), 2000);
    await roundTrip(other.b, other.a, Buffer.from('after flood'), 2000);
    expect(sent).toBeGreaterThan(m.drops['queue-full']);
  });
});

describe('fault injection (test-only switches)', () => {
  it('is off unless enabled', async () => {
    const server = await startServer();
    expect(() => server.faults).toThrow(expect.objectContaining({ code: 'ERR_FAULT_INJECTION_DISABLED' }));
  });

  it('stallPair drops transport between one pair both ways, health checks still answered; unstall restores', async () => {
    const hc = { intervalMs: 50, timeoutMs: 100 };
    const server = await startServer({ faultInjection: true, healthCheck: hc });
    const opts = { healthCheck: hc };
    const { ca, cb, a, b } = await openPair(server, opts);
    const cc = await connectClient(server, randomKey(), opts);
    const [ac, c] = await Promise.all([ca.openConn(cc.localKey), cc.openConn(ca.localKey)]);
    server.faults.stallPair(ca.localKey, cb.localKey);
    const heard: Buffer[] = [];
    b.on('data', (d) => heard.push(d));
    a.on('data', (d) => heard.push(d));
    // Several health-check windows pass while the pair is stalled.
    for (let i = 0; i < 10; i++) {
      a.send(Buffer.from(`lost ${i}`));
      b.send(Buffer.from(`lost ${i}`));
      await roundTrip(ac, c, Buffer.from(`a→c ${i}`), 2000);
      await new Promise((r) => setTimeout(r, 50));
    }
    await expect.poll(() => server.metrics().drops['fault-stall'], { timeout: 5000 }).toBe(20);
    expect(heard).toEqual([]);
    expect(ca.connected && cb.connected && cc.connected).toBe(true);
    expect(a.closed || b.closed).toBe(false);
    server.faults.unstallPair(cb.localKey, ca.localKey);
    await roundTrip(a, b, Buffer.from('flowing again'));
  });

  it('dropSession cuts a peer without telling its subscribers (the §15 stale entry)', async () => {
    const server = await startServer({ faultInjection: true });
    const { ca, cb, a } = await openPair(server);
    const lost = onceEvent(cb, 'disconnected', { timeoutMs: 5000 });
    let told = 0;
    ca.on('peer-offline', () => told++);
    expect(server.faults.dropSession(cb.localKey)).toBe(true);
    await lost;
    // A still holds its entry and its conn "works", but nothing arrives anywhere.
    expect(ca.hasConn(cb.localKey)).toBe(true);
    expect(a.closed).toBe(false);
    expect(a.send(Buffer.from('to nobody'))).toBe(true);
    await expect.poll(() => server.metrics().drops['no-route'], { timeout: 5000 }).toBe(1);
    // Sync point: an online answer for a third peer is queued after anything said about B.
    const cc = await connectClient(server);
    await ca.openConn(cc.localKey);
    expect(told).toBe(0);
    expect(server.faults.dropSession(cb.localKey)).toBe(false);
  });

  it('dropSession with keepSocket: the peer stays connected (health checks go on) but nothing is routed', async () => {
    const hc = { intervalMs: 50, timeoutMs: 100 };
    const server = await startServer({ faultInjection: true, healthCheck: hc });
    const { ca, cb, a, b } = await openPair(server, { healthCheck: hc });
    expect(server.faults.dropSession(cb.localPeerId, { keepSocket: true })).toBe(true);
    expect(server.hasPeer(cb.localKey)).toBe(false);
    a.send(Buffer.from('x'));
    b.send(Buffer.from('y'));
    await expect
      .poll(() => [server.metrics().drops['no-route'], server.metrics().drops['fault-dropped']], { timeout: 5000 })
      .toEqual([1, 1]);
    await new Promise((r) => setTimeout(r, 500)); // several health-check windows
    expect(cb.connected).toBe(true);
    expect(ca.connected).toBe(true);
  });
});
