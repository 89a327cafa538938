import { once } from 'node:events';
import { onceEvent } from '@mesh/core';
import {
  encodeAuth,
  encodeClose,
  encodeHealthCheck,
  encodePeerIdList,
  encodeTransport,
  generateRelayToken,
  PeerId,
  RelayClient,
} from '@mesh/relay-client';
import { describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { closed, connectClient, onCleanup, openPair, randomKey, rawSocket, SECRET, startServer } from './helpers.js';

/** Collects everything a raw socket receives. */
function received(ws: WebSocket): Buffer[] {
  const got: Buffer[] = [];
  ws.on('message', (d: Buffer) => got.push(d));
  return got;
}

const NOW = Date.now();

describe('security', () => {
  it.each([
    ['missing', () => Buffer.alloc(0), 'malformed'],
    ['expired', () => generateRelayToken(SECRET, { now: NOW - 3_600_000, ttlMs: 1000 }), 'expired'],
    ['badly signed', () => generateRelayToken('not-the-secret'), 'signature'],
  ])('a %s token is rejected without a reply (connect: ERR_RELAY_AUTH)', async (_name, token, reason) => {
    const server = await startServer();
    const client = new RelayClient({ url: server.url, localKey: randomKey(), token: token() });
    onCleanup(() => client.close());
    await expect(client.connect()).rejects.toMatchObject({ code: 'ERR_RELAY_AUTH' });
    expect(server.metrics().authFailures[reason]).toBe(1);
    expect(server.peers()).toEqual([]);
  });

  it.each([
    ['missing', Buffer.alloc(0), 'malformed'],
    ['oversize (auth message over 212 bytes)', Buffer.alloc(171, 1), 'oversize'],
    ['badly signed', generateRelayToken('nope'), 'signature'],
  ])('raw: a %s token gets no byte back, the socket is just closed', async (_name, token, reason) => {
    const server = await startServer();
    const ws = await rawSocket(server);
    const got = received(ws);
    const frame = Buffer.concat([encodeAuth(PeerId.fromKey(randomKey()), Buffer.alloc(0)), token]);
    ws.send(frame);
    const code = await closed(ws);
    expect(code).toBe(1006); // terminated: not even a close frame
    expect(got).toEqual([]);
    expect(server.metrics().authFailures[reason]).toBe(1);
  });

  it('the client refuses to send an oversize token (typed error, nothing sent)', async () => {
    const server = await startServer();
    const client = new RelayClient({ url: server.url, localKey: randomKey(), token: Buffer.alloc(171, 1) });
    onCleanup(() => client.close());
    await expect(client.connect()).rejects.toMatchObject({ code: 'ERR_RELAY_PROTOCOL', reason: 'oversize' });
  });

  it('an unauthenticated connection cannot send transport (dropped at once) nor receive any', async () => {
    const server = await startServer();
    const { ca, cb, b } = await openPair(server);
    const spy = await rawSocket(server);
    const got = received(spy);
    // The spy claims A's id in a transport message but never authenticated.
    spy.send(encodeTransport(cb.localPeerId, Buffer.from('forged')));
    await closed(spy);
    const heard: Buffer[] = [];
    b.on('data', (d) => heard.push(d));
    // B sends to A meanwhile; the spy must not see it.
    const a = ca.conns()[0]!;
    const atA = onceEvent(a, 'data', { timeoutMs: 5000 });
    b.send(Buffer.from('for A only'));
    await atA;
    expect(got).toEqual([]);
    expect(heard).toEqual([]);
    expect(server.metrics().disconnects['protocol-error']).toBe(1);
  });

  it('a connected but unauthenticated socket receives nothing, not even what is addressed to the id it would claim', async () => {
    const server = await startServer();
    const silent = await rawSocket(server);
    const got = received(silent);
    const wouldBe = randomKey();
    const waiter = await connectClient(server, randomKey(), { openTimeoutMs: 200 });
    await expect(waiter.openConn(wouldBe)).rejects.toMatchObject({ code: 'ERR_PEER_NOT_ONLINE' });
    const sender = await rawSocket(server);
    const reply = once(sender, 'message', { signal: AbortSignal.timeout(5000) });
    sender.send(encodeAuth(PeerId.fromKey(randomKey()), generateRelayToken(SECRET)));
    await reply;
    sender.send(encodeTransport(PeerId.fromKey(wouldBe), Buffer.from('not for you')));
    await expect.poll(() => server.metrics().drops['no-route'], { timeout: 5000 }).toBe(1);
    expect(got).toEqual([]);
    expect(silent.readyState).toBe(silent.OPEN);
  });

  it.each([
    ['healthcheck', encodeHealthCheck()],
    ['subscribe', encodePeerIdList('subscribe', [PeerId.fromKey(randomKey())])[0]!],
    ['close', encodeClose()],
    ['garbage', Buffer.from('GET / HTTP/1.1')],
  ])('the server drops a client that sends %s before auth', async (_n, frame) => {
    const server = await startServer();
    const ws = await rawSocket(server);
    const got = received(ws);
    ws.send(frame);
    await closed(ws);
    expect(got).toEqual([]);
    expect(server.metrics().pendingConnections).toBe(0);
  });

  it('a text message before auth is dropped too', async () => {
    const server = await startServer();
    const ws = await rawSocket(server);
    ws.send('hello');
    await closed(ws);
    expect(server.metrics().disconnects['not-binary']).toBe(1);
  });

  it('a connection that never authenticates is closed after authTimeoutMs', async () => {
    const server = await startServer({ authTimeoutMs: 200 });
    const ws = await rawSocket(server);
    const t0 = performance.now();
    await closed(ws, 5000);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
    expect(server.metrics().disconnects['auth-timeout']).toBe(1);
  });

  it('only the /relay path upgrades', async () => {
    const server = await startServer();
    const { default: WS } = await import('ws');
    const ws = new WS(server.url.replace('/relay', '/other'));
    onCleanup(() => ws.terminate());
    const err = await new Promise<Error>((resolve) => ws.once('error', resolve));
    expect(String(err.message)).toMatch(/404/);
  });

  it('a second auth after authenticating is a protocol error (connection closed)', async () => {
    const server = await startServer();
    const ws = await rawSocket(server);
    const id = PeerId.fromKey(randomKey());
    ws.send(encodeAuth(id, generateRelayToken(SECRET)));
    await once(ws, 'message', { signal: AbortSignal.timeout(5000) });
    ws.send(encodeAuth(id, generateRelayToken(SECRET)));
    await closed(ws);
    expect(server.metrics().disconnects['protocol-error']).toBe(1);
  });
});
