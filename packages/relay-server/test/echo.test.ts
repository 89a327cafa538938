import { hasCode, onceEvent } from '@mesh/core';
import { describeDatagramPathContract } from '@mesh/core/testing/contract';
import { generateRelayToken, RelayClient } from '@mesh/relay-client';
import { describe, expect, it } from 'vitest';
import { RelayServer } from '../src/index.js';
import { connectClient, openPair, randomKey, roundTrip, SECRET, startServer } from './helpers.js';

describeDatagramPathContract('RelayConn over a real RelayServer', async () => {
  const server = new RelayServer({ exposedAddress: 'rel://127.0.0.1:1', secret: SECRET });
  await server.start();
  const mk = async () => {
    const c = new RelayClient({ url: server.url, localKey: randomKey(), token: generateRelayToken(SECRET) });
    await c.connect();
    return c;
  };
  const [ca, cb] = await Promise.all([mk(), mk()]);
  const [a, b] = await Promise.all([ca.openConn(cb.localKey), cb.openConn(ca.localKey)]);
  return {
    a,
    b,
    teardown: async () => {
      ca.close();
      cb.close();
      await server.stop();
    },
  };
});

describe('relay echo over real WebSocket', () => {
  it('connect resolves with the instance URL; two clients exchange data both ways', async () => {
    const server = await startServer({ exposedAddress: 'rel://relay.test:33080' });
    const { ca, a, b } = await openPair(server);
    expect(ca.instanceUrl).toBe('rel://relay.test:33080');
    expect(a.serverUrl).toBe('rel://relay.test:33080');
    expect(a.kind).toBe('relay');
    await roundTrip(a, b, Buffer.from('ping'));
    await roundTrip(b, a, Buffer.from('pong'));
    // Max-size payload (8782 bytes) passes; one byte more is refused by send().
    await roundTrip(a, b, Buffer.alloc(8782, 7));
    expect(a.send(Buffer.alloc(8783))).toBe(false);
    expect(server.metrics().messagesForwarded).toBeGreaterThanOrEqual(3);
  });

  it('openConn to an offline peer fails with ERR_PEER_NOT_ONLINE within its bound, and leaves no entry', async () => {
    const server = await startServer();
    const c = await connectClient(server, randomKey(), { openTimeoutMs: 300 });
    const offline = randomKey();
    const t0 = performance.now();
    const err = await c.openConn(offline).catch((e) => e);
    const took = performance.now() - t0;
    expect(hasCode(err, 'ERR_PEER_NOT_ONLINE')).toBe(true);
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(2000);
    expect(c.hasConn(offline)).toBe(false);
  });

  it('openConn waits for a peer that comes online later', async () => {
    const server = await startServer();
    const ca = await connectClient(server);
    const kb = randomKey();
    const opening = ca.openConn(kb);
    const cb = await connectClient(server, kb);
    const [a, b] = await Promise.all([opening, cb.openConn(ca.localKey)]);
    await roundTrip(a, b, Buffer.from('late'));
  });

  it('of two concurrent openConns for one peer exactly one wins; the other gets ERR_CONN_ALREADY_EXISTS', async () => {
    const server = await startServer();
    const [ca, cb] = await Promise.all([connectClient(server), connectClient(server)]);
    const results = await Promise.allSettled([ca.openConn(cb.localKey), ca.openConn(cb.localKey)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(hasCode(rejected.reason, 'ERR_CONN_ALREADY_EXISTS')).toBe(true);
    // And later as well, while the entry exists.
    await expect(ca.openConn(cb.localKey)).rejects.toMatchObject({ code: 'ERR_CONN_ALREADY_EXISTS' });
  });

  it('per-conn close: the closed end stops, the entry is gone, a new openConn works', async () => {
    const server = await startServer();
    const { ca, cb, a, b } = await openPair(server);
    const reasons: string[] = [];
    a.on('close', (i) => reasons.push(i.reason));
    a.close();
    expect(reasons).toEqual(['local']);
    expect(a.send(Buffer.from('x'))).toBe(false);
    expect(ca.hasConn(cb.localKey)).toBe(false);
    const a2 = await ca.openConn(cb.localKey);
    await roundTrip(a2, b, Buffer.from('again'));
    await roundTrip(b, a2, Buffer.from('back'));
  });

  it('closeConnByPeerKey closes that entry and returns true; false when there is none', async () => {
    const server = await startServer();
    const { ca, cb, a } = await openPair(server);
    const closedA = onceEvent(a, 'close');
    expect(ca.closeConnByPeerKey(cb.localKey)).toBe(true);
    expect((await closedA)[0].reason).toBe('closed-by-key');
    expect(ca.closeConnByPeerKey(cb.localKey)).toBe(false);
  });

  it('closeConnByPeerKey while openConn waits rejects that openConn with ERR_CLOSED', async () => {
    const server = await startServer();
    const ca = await connectClient(server);
    const k = randomKey();
    const opening = ca.openConn(k);
    expect(ca.closeConnByPeerKey(k)).toBe(true);
    await expect(opening).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    expect(ca.hasConn(k)).toBe(false);
  });

  it('a message that arrives before openConn is kept and delivered after it', async () => {
    const server = await startServer();
    const [ca, cb] = await Promise.all([connectClient(server), connectClient(server)]);
    const b = await cb.openConn(ca.localKey);
    expect(b.send(Buffer.from('early bird'))).toBe(true);
    // Wait until the server has forwarded it (ca has no entry yet: it lands in the early buffer).
    await expect.poll(() => server.metrics().messagesForwarded, { timeout: 5000 }).toBe(1);
    const a = await ca.openConn(cb.localKey);
    const [got] = await onceEvent(a, 'data', { timeoutMs: 5000 });
    expect(String(got)).toBe('early bird');
  });

  it('reconnect of a peer: old conn fails, a new one works', async () => {
    const server = await startServer();
    const { ca, cb, a } = await openPair(server);
    const kb = cb.localKey;
    const closedA = onceEvent(a, 'close', { timeoutMs: 5000 });
    cb.close(); // B leaves gracefully: the server tells A it went offline
    expect((await closedA)[0].reason).toBe('peer-offline');
    expect(a.send(Buffer.from('into the void'))).toBe(false);
    expect(ca.hasConn(kb)).toBe(false);
    const cb2 = await connectClient(server, kb);
    const [a2, b2] = await Promise.all([ca.openConn(kb), cb2.openConn(ca.localKey)]);
    await roundTrip(a2, b2, Buffer.from('hello again'));
    await roundTrip(b2, a2, Buffer.from('welcome back'));
  });
});
