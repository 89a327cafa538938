import { randomBytes } from 'node:crypto';
import { FakeClock, onceEvent, PeerKey } from '@mesh/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeClientMessage,
  EarlyMessageBuffer,
  encodeAuth,
  encodeAuthResponse,
  encodeClose,
  encodeHealthCheck,
  encodePeerIdList,
  encodeTransport,
  PeerId,
  RelayClient,
  type RelayClientOptions,
  type RelayConn,
  relayWebSocketUrl,
} from '../src/index.js';
import { ScriptedServer } from './scripted-server.js';

const key = () => PeerKey.fromBytes(randomBytes(32));
const TOKEN = Buffer.concat([Buffer.from([1]), Buffer.alloc(32, 7), Buffer.from('1700003600')]);
const clients: RelayClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

async function connected(server: ScriptedServer, options: Partial<RelayClientOptions> = {}) {
  const client = new RelayClient({ url: server.url, localKey: key(), token: TOKEN, ...options });
  clients.push(client);
  await client.connect();
  return client;
}

/** openConn against the scripted server: waits for the subscribe, answers peers-online. */
async function open(server: ScriptedServer, client: RelayClient, peer: PeerKey): Promise<RelayConn> {
  const before = server.received.length;
  const opening = client.openConn(peer);
  await server.frames(before + 1);
  expect(decodeClientMessage(server.received[before]!)).toMatchObject({ type: 'subscribe' });
  server.send(encodePeerIdList('peers-online', [PeerId.fromKey(peer)])[0]!);
  return opening;
}

describe('RelayClient against a scripted server', () => {
  it('sends exactly [1][6][magic][own id][token], takes the token as base64 text or from a function', async () => {
    const server = await ScriptedServer.start();
    const localKey = key();
    const c = new RelayClient({ url: server.url, localKey, token: () => TOKEN.toString('base64') });
    clients.push(c);
    await c.connect();
    expect(server.received[0]).toEqual(encodeAuth(PeerId.fromKey(localKey), TOKEN));
    expect(c.instanceUrl).toBe('rel://scripted:1');
    expect(c.connected).toBe(true);
  });

  it('frames that arrive right behind the auth reply are not lost', async () => {
    const peer = key();
    const server = await ScriptedServer.start(() => [
      encodeAuthResponse('rel://scripted:1'),
      encodeTransport(PeerId.fromKey(peer), Buffer.from('right behind')),
      encodeHealthCheck(),
    ]);
    const c = await connected(server);
    await server.frames(2); // the echo of the health check
    const conn = await open(server, c, peer);
    const [got] = await onceEvent(conn, 'data', { timeoutMs: 5000 });
    expect(String(got)).toBe('right behind');
  });

  it('echoes health checks byte for byte', async () => {
    const server = await ScriptedServer.start();
    await connected(server);
    server.send(encodeHealthCheck());
    const frames = await server.frames(2);
    expect(frames[1]).toEqual(Buffer.from([1, 5]));
  });

  it('skips frames it cannot read and stays connected (as NetBird does)', async () => {
    const server = await ScriptedServer.start();
    const c = await connected(server);
    const peer = key();
    const conn = await open(server, c, peer);
    for (const junk of ['', '02', '0100', '01ff', '0108', '010a00', '0106']) server.send(Buffer.from(junk, 'hex'));
    server.socket!.send('text frame');
    const got = onceEvent(conn, 'data', { timeoutMs: 5000 });
    server.send(encodeTransport(PeerId.fromKey(peer), Buffer.from('still here')));
    expect(String((await got)[0])).toBe('still here');
    expect(c.connected).toBe(true);
  });

  it('payloads arriving while openConn waits are queued (bounded, drops counted) and delivered in order after it resolves', async () => {
    const server = await ScriptedServer.start();
    const c = await connected(server, { receiveQueueSize: 10 });
    const peer = key();
    const id = PeerId.fromKey(peer);
    const opening = c.openConn(peer);
    await server.frames(2);
    for (let i = 0; i < 15; i++) server.send(encodeTransport(id, Buffer.from([i])));
    server.send(encodePeerIdList('peers-online', [id])[0]!);
    const conn = await opening;
    const got: number[] = [];
    conn.on('data', (d) => got.push(d[0]!));
    await expect.poll(() => got.length, { timeout: 5000 }).toBe(10);
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(conn.rxDropped).toBe(5);
    expect(conn.counters.rxPackets).toBe(10);
  });

  it('early buffer: the newest message per peer before openConn is delivered; older than the TTL is not', async () => {
    const clock = new FakeClock();
    const server = await ScriptedServer.start();
    const c = await connected(server, { clock });
    const [p1, p2] = [key(), key()];
    server.send(encodeTransport(PeerId.fromKey(p1), Buffer.from('old')));
    server.send(encodeTransport(PeerId.fromKey(p1), Buffer.from('newest')));
    server.send(encodeTransport(PeerId.fromKey(p2), Buffer.from('stale')));
    server.send(encodeHealthCheck());
    await server.frames(2); // the echo proves the transports before it were read
    await clock.advance(3000);
    const conn1 = await open(server, c, p1);
    const [first] = await onceEvent(conn1, 'data', { timeoutMs: 5000 });
    expect(String(first)).toBe('newest');
    await clock.advance(2001); // p2's message is now 5,001 ms old
    const conn2 = await open(server, c, p2);
    const heard: Buffer[] = [];
    conn2.on('data', (d) => heard.push(d));
    await new Promise((r) => setImmediate(r));
    expect(heard).toEqual([]);
    expect(c.earlyDropped).toBe(1); // 'old' was replaced
  });

  it('openConn times out on the injected clock with ERR_PEER_NOT_ONLINE and unsubscribes', async () => {
    const clock = new FakeClock();
    const server = await ScriptedServer.start();
    const c = await connected(server, { clock, openTimeoutMs: 30_000 });
    const peer = key();
    const opening = c.openConn(peer).catch((e) => e);
    await server.frames(2);
    await clock.advance(29_999);
    expect(c.hasConn(peer)).toBe(true);
    await clock.advance(1);
    expect((await opening).code).toBe('ERR_PEER_NOT_ONLINE');
    expect(c.hasConn(peer)).toBe(false);
    await server.frames(3);
    expect(server.types()).toEqual(['auth', 'subscribe', 'unsubscribe']);
  });

  it('openConn honours its abort signal', async () => {
    const server = await ScriptedServer.start();
    const c = await connected(server);
    const ac = new AbortController();
    const peer = key();
    const opening = c.openConn(peer, { signal: ac.signal });
    ac.abort();
    await expect(opening).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expect(c.hasConn(peer)).toBe(false);
  });

  it('peers-went-offline closes and removes the conn, unsubscribes, and emits peer-offline', async () => {
    const server = await ScriptedServer.start();
    const c = await connected(server);
    const peer = key();
    const conn = await open(server, c, peer);
    const closed = onceEvent(conn, 'close', { timeoutMs: 5000 });
    const event = onceEvent(c, 'peer-offline', { timeoutMs: 5000 });
    server.send(encodePeerIdList('peers-offline', [PeerId.fromKey(peer)])[0]!);
    expect((await closed)[0].reason).toBe('peer-offline');
    expect((await event)[0].peerKey.equals(peer)).toBe(true);
    expect(c.hasConn(peer)).toBe(false);
    await server.frames(3);
    expect(server.types()).toEqual(['auth', 'subscribe', 'unsubscribe']);
  });

  it('a close message from the server: disconnected (server-close); conns close with relay-disconnected', async () => {
    const server = await ScriptedServer.start();
    const c = await connected(server);
    const conn = await open(server, c, key());
    const closed = onceEvent(conn, 'close', { timeoutMs: 5000 });
    const lost = onceEvent(c, 'disconnected', { timeoutMs: 5000 });
    server.send(encodeClose());
    expect((await lost)[0].cause).toBe('server-close');
    const [info] = await closed;
    expect(info.reason).toBe('relay-disconnected');
    expect(info.error).toMatchObject({ code: 'ERR_RELAY_DISCONNECTED' });
    await expect(c.connect()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('keepalive: a send after idleMs of silence pings; an answered ping keeps the connection; no ping while frames arrive', async () => {
    const clock = new FakeClock();
    const server = await ScriptedServer.start();
    const c = await connected(server, { clock });
    const conn = await open(server, c, key()); // the peers-online just arrived
    const sent = server.received.length;
    expect(conn.send(Buffer.from('a'))).toBe(true);
    await clock.advance(1_999);
    expect(conn.send(Buffer.from('b'))).toBe(true);
    await server.frames(sent + 2);
    expect(server.pings).toBe(0);
    await clock.advance(1);
    expect(conn.send(Buffer.from('c'))).toBe(true);
    await server.pinged(1);
    // Joins the ping in flight (or sends one more if its pong was already read): true needs a pong.
    await expect(c.checkAlive()).resolves.toBe(true);
    await clock.advance(10_000); // far past the pong deadline
    expect(c.connected).toBe(true);
    expect(server.pings).toBeLessThanOrEqual(2);
  });

  it('keepalive: a ping nothing answers ends the connection (ping-timeout) after pongTimeoutMs; conns close', async () => {
    const clock = new FakeClock();
    const server = await ScriptedServer.start(undefined, '/relay', false);
    const c = await connected(server, { clock, keepalive: { idleMs: 5_000, pongTimeoutMs: 4_000 } });
    const conn = await open(server, c, key());
    const lost = onceEvent(c, 'disconnected', { timeoutMs: 5000 });
    const closed = onceEvent(conn, 'close', { timeoutMs: 5000 });
    await clock.advance(4_999);
    conn.send(Buffer.from('x'));
    await clock.advance(1);
    conn.send(Buffer.from('y'));
    await server.pinged(1);
    await clock.advance(3_999);
    expect(c.connected).toBe(true);
    await clock.advance(1);
    const [info] = await lost;
    expect(info.cause).toBe('ping-timeout');
    expect(info.error).toMatchObject({ code: 'ERR_TIMEOUT' });
    expect((await closed)[0].reason).toBe('relay-disconnected');
  });

  it('checkAlive(): true when the server answers, false (and ping-timeout) when it does not; callers share one ping', async () => {
    const clock = new FakeClock();
    const server = await ScriptedServer.start();
    const c = await connected(server);
    await expect(c.checkAlive()).resolves.toBe(true);
    expect(server.pings).toBe(1);

    const silent = await ScriptedServer.start(undefined, '/relay', false);
    const d = await connected(silent, { clock });
    const lost = onceEvent(d, 'disconnected', { timeoutMs: 5000 });
    const checks = [d.checkAlive(), d.checkAlive()];
    const ac = new AbortController();
    const aborted = d.checkAlive({ signal: ac.signal });
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    await silent.pinged(1);
    await clock.advance(3_000);
    await expect(Promise.all(checks)).resolves.toEqual([false, false]);
    expect((await lost)[0].cause).toBe('ping-timeout');
    expect(silent.pings).toBe(1);
    await expect(d.checkAlive()).resolves.toBe(false); // finished client
  });

  it('keepalive bounds must be positive numbers: ERR_INVALID_ARGUMENT at construction', () => {
    for (const keepalive of [{ idleMs: 0 }, { pongTimeoutMs: -1 }, { idleMs: Number.NaN }]) {
      expect(() => new RelayClient({ url: 'rel://127.0.0.1:9', localKey: key(), token: TOKEN, keepalive })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
      );
    }
  });

  it('checkAlive(): false when not connected, and a pending check resolves false on close()', async () => {
    const idle = new RelayClient({ url: 'rel://127.0.0.1:9', localKey: key(), token: TOKEN });
    await expect(idle.checkAlive()).resolves.toBe(false);
    const silent = await ScriptedServer.start(undefined, '/relay', false);
    const c = await connected(silent, { clock: new FakeClock() });
    const check = c.checkAlive();
    c.close();
    await expect(check).resolves.toBe(false);
  });

  it('auth failures are typed: closed without reply, wrong reply, HTTP error', async () => {
    const silent = await ScriptedServer.start(() => undefined);
    await expect(connected(silent)).rejects.toMatchObject({ code: 'ERR_RELAY_AUTH' });
    const wrong = await ScriptedServer.start(() => encodeHealthCheck());
    await expect(connected(wrong)).rejects.toMatchObject({ code: 'ERR_RELAY_AUTH' });
    const wrongPath = await ScriptedServer.start(undefined, '/elsewhere');
    await expect(connected(wrongPath)).rejects.toMatchObject({ code: 'ERR_RELAY_CONNECT' });
  });

  it('a bad token (oversize, or a token function that throws) fails connect with a typed error; a retry can succeed', async () => {
    const server = await ScriptedServer.start();
    const tokens: Array<() => Buffer> = [
      () => Buffer.alloc(171),
      () => {
        throw new Error('management unreachable');
      },
      () => TOKEN,
    ];
    const c = new RelayClient({ url: server.url, localKey: key(), token: () => tokens.shift()!() });
    clients.push(c);
    await expect(c.connect()).rejects.toMatchObject({ code: 'ERR_RELAY_PROTOCOL', reason: 'oversize' });
    await expect(c.connect()).rejects.toThrow('management unreachable');
    await c.connect();
    expect(c.connected).toBe(true);
  });

  it('a failed connect can be retried on the same client', async () => {
    const server = await ScriptedServer.start();
    const c = new RelayClient({ url: server.url, localKey: key(), token: () => TOKEN });
    clients.push(c);
    await expect(c.connect({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    await c.connect();
    expect(c.connected).toBe(true);
  });

  it('send() returns false (counted) once the socket is backed up beyond maxBufferedBytes, never throws', async () => {
    const server = await ScriptedServer.start();
    const c = await connected(server, { maxBufferedBytes: 64 * 1024 });
    const conn = await open(server, c, key());
    (server.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const payload = Buffer.alloc(8000);
    let accepted = 0;
    for (let i = 0; i < 10_000 && conn.send(payload); i++) {
      accepted++;
      if (i % 50 === 0) await new Promise((r) => setImmediate(r)); // let the socket write what it can
    }
    expect(accepted).toBeLessThan(10_000);
    expect(conn.send(payload)).toBe(false);
    expect(conn.txDropped).toBeGreaterThanOrEqual(1);
    expect(conn.counters.txPackets).toBe(accepted);
  });

  it('openConn before connect: ERR_RELAY_NOT_CONNECTED', async () => {
    const c = new RelayClient({ url: 'rel://127.0.0.1:9', localKey: key(), token: TOKEN });
    await expect(c.openConn(key())).rejects.toMatchObject({ code: 'ERR_RELAY_NOT_CONNECTED' });
  });
});

describe('relay URLs', () => {
  it.each([
    ['rel://relay.example:33080', 'ws://relay.example:33080/relay'],
    ['rels://relay.example:443', 'wss://relay.example:443/relay'],
    ['rels://relay.example', 'wss://relay.example/relay'],
    ['ws://127.0.0.1:80/x', 'ws://127.0.0.1/relay'],
    ['wss://[::1]:8443', 'wss://[::1]:8443/relay'],
  ])('%s → %s', (input, out) => {
    expect(relayWebSocketUrl(input)).toBe(out);
  });
  it.each(['http://h:1', 'relay.example:443', 'rel://', ''])('%s is refused', (bad) => {
    expect(() => relayWebSocketUrl(bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });
});

describe('EarlyMessageBuffer', () => {
  it('keeps one message per peer, bounded in peers, expiring lazily', () => {
    let now = 0;
    const buf = new EarlyMessageBuffer(5000, 2, () => now);
    buf.put('a', Buffer.from('1'));
    buf.put('a', Buffer.from('2'));
    buf.put('b', Buffer.from('3'));
    buf.put('c', Buffer.from('4')); // full: dropped
    expect(buf.size).toBe(2);
    expect(buf.dropped).toBe(2);
    expect(String(buf.pop('a'))).toBe('2');
    expect(buf.pop('a')).toBeUndefined();
    now = 5001;
    buf.put('d', Buffer.from('5')); // expires b on the way
    expect(buf.size).toBe(1);
    expect(buf.pop('b')).toBeUndefined();
    buf.clear();
    expect(buf.size).toBe(0);
  });
});
