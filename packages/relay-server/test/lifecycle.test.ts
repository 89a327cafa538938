import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { onceEvent } from '@mesh/core';
import { generateRelayToken, RelayClient } from '@mesh/relay-client';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { RelayServer } from '../src/index.js';
import { connectClient, onCleanup, openPair, randomKey, roundTrip, SECRET, startServer } from './helpers.js';

describe('server lifecycle', () => {
  it('graceful shutdown: every client gets disconnected (server-close) and every conn closes', async () => {
    const server = await startServer();
    const clients = await Promise.all(Array.from({ length: 5 }, () => connectClient(server)));
    const [c0, c1] = clients;
    const [a, b] = await Promise.all([c0!.openConn(c1!.localKey), c1!.openConn(c0!.localKey)]);
    const disconnects = clients.map((c) => onceEvent(c, 'disconnected', { timeoutMs: 5000 }));
    const connCloses = [a, b].map((c) => onceEvent(c, 'close', { timeoutMs: 5000 }));
    await server.stop();
    expect((await Promise.all(disconnects)).map(([i]) => i.cause)).toEqual(Array(5).fill('server-close'));
    expect((await Promise.all(connCloses)).map(([i]) => i.reason)).toEqual([
      'relay-disconnected',
      'relay-disconnected',
    ]);
    expect(clients.every((c) => !c.connected)).toBe(true);
    await server.stop(); // idempotent
  });

  it('start is idempotent (concurrent calls share one start); stop during start closes the listener; start after stop is refused', async () => {
    const server = new RelayServer({ exposedAddress: 'rel://127.0.0.1:1', secret: SECRET });
    onCleanup(() => server.stop());
    const [x, y] = await Promise.all([server.start(), server.start()]);
    expect(x).toEqual(y);
    expect(await server.start()).toEqual(x);
    await server.stop();
    await expect(server.start()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    const racing = new RelayServer({ exposedAddress: 'rel://127.0.0.1:1', secret: SECRET });
    const started = racing.start();
    await racing.stop();
    const { port } = await started;
    // The port is free again: nothing kept listening.
    const again = await startServer({ port });
    expect(again.address().port).toBe(port);
  });

  it('server restart on the same port: clients see disconnected; a fresh connect + openConn carries traffic again', async () => {
    const first = await startServer();
    const { port } = first.address();
    const url = first.url;
    const { ca, cb, a, b } = await openPair(first);
    await roundTrip(a, b, Buffer.from('before'));
    const lost = [ca, cb].map((c) => onceEvent(c, 'disconnected', { timeoutMs: 5000 }));
    await first.stop();
    await Promise.all(lost);
    await expect(ca.openConn(cb.localKey)).rejects.toMatchObject({ code: 'ERR_RELAY_NOT_CONNECTED' });
    await expect(ca.connect()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    // No server: a new client fails to dial with a typed error.
    const refused = new RelayClient({ url, localKey: randomKey(), token: generateRelayToken(SECRET) });
    await expect(refused.connect()).rejects.toMatchObject({ code: 'ERR_RELAY_CONNECT' });
    const second = await startServer({ port });
    const [ca2, cb2] = await Promise.all([connectClient(second, ca.localKey), connectClient(second, cb.localKey)]);
    const [a2, b2] = await Promise.all([ca2.openConn(cb.localKey), cb2.openConn(ca.localKey)]);
    await roundTrip(a2, b2, Buffer.from('after'));
    await roundTrip(b2, a2, Buffer.from('after, back'));
  });

  it('abrupt loss of the socket: disconnected with socket-closed', async () => {
    const server = await startServer({ faultInjection: true });
    const c = await connectClient(server);
    const lost = onceEvent(c, 'disconnected', { timeoutMs: 5000 });
    expect(server.faults.dropSession(c.localKey)).toBe(true);
    expect((await lost)[0].cause).toBe('socket-closed');
  });

  it('client.close() closes conns with client-closed, tells the server, emits no disconnected', async () => {
    const server = await startServer();
    const { ca, cb, a } = await openPair(server);
    const reasons: string[] = [];
    a.on('close', (i) => reasons.push(i.reason));
    let disconnected = 0;
    ca.on('disconnected', () => disconnected++);
    const gone = onceEvent(server, 'peer-disconnected', {
      timeoutMs: 5000,
      filter: (i: { cause: string; peerId: { key: string } }) => i.peerId.key === ca.localPeerId.key,
    });
    ca.close();
    ca.close();
    expect(reasons).toEqual(['client-closed']);
    expect(((await gone)[0] as { cause: string }).cause).toBe('client-close');
    expect(disconnected).toBe(0);
    expect(server.hasPeer(ca.localKey)).toBe(false);
    expect(server.hasPeer(cb.localKey)).toBe(true);
  });

  it('close() while connecting rejects connect with ERR_CLOSED', async () => {
    const server = await startServer();
    const c = new RelayClient({ url: server.url, localKey: randomKey(), token: generateRelayToken(SECRET) });
    onCleanup(() => c.close());
    const p = c.connect();
    c.close();
    await expect(p).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('connect honours an abort signal', async () => {
    const server = await startServer();
    const c = new RelayClient({ url: server.url, localKey: randomKey(), token: generateRelayToken(SECRET) });
    onCleanup(() => c.close());
    await expect(c.connect({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });

  it('a server that accepts but never answers auth: connect fails with ERR_TIMEOUT after authTimeoutMs', async () => {
    const mute = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/relay' });
    onCleanup(() => new Promise((r) => mute.close(r)));
    mute.on('connection', (ws) => onCleanup(() => ws.terminate()));
    await once(mute, 'listening', { signal: AbortSignal.timeout(5000) });
    const { port } = mute.address() as AddressInfo;
    const c = new RelayClient({
      url: `rel://127.0.0.1:${port}`,
      localKey: randomKey(),
      token: generateRelayToken(SECRET),
      authTimeoutMs: 300,
    });
    onCleanup(() => c.close());
    const t0 = performance.now();
    await expect(c.connect()).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});
