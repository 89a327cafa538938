import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCode, type PeerKey } from '@mesh/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateKeyPair, parseGetReply, UapiDevice } from '../src/index.js';

type Handler = (request: string, socket: Socket) => void;

/** A unix-socket UAPI server that records requests and answers with `handler`. */
class FakeUapi {
  readonly requests: string[] = [];
  handler: Handler = (_req, s) => s.end('errno=0\n\n');
  readonly server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(readonly path: string) {
    this.server = createServer((socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.on('error', () => {});
      let buf = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        buf += d;
        const end = buf.indexOf('\n\n');
        if (end < 0) return;
        const req = buf.slice(0, end + 2);
        this.requests.push(req);
        this.handler(req, socket);
      });
    });
  }

  listen(): Promise<void> {
    return new Promise((r) => this.server.listen(this.path, () => r()));
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const hexOf = (k: PeerKey) => k.hex;

describe('UapiDevice against a fake UAPI server', () => {
  let dir: string;
  let fake: FakeUapi;
  let device: UapiDevice;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wgc-uapi-'));
    fake = new FakeUapi(join(dir, 'wg0.sock'));
    await fake.listen();
    device = new UapiDevice('wg0', { socketPath: fake.path, timeoutMs: 1000 });
  });
  afterEach(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('parses a full get reply', async () => {
    const me = generateKeyPair();
    const p1 = generateKeyPair().publicKey;
    const p2 = generateKeyPair().publicKey;
    const priv = Buffer.from(me.privateKey, 'base64').toString('hex');
    fake.handler = (_r, s) =>
      s.end(
        [
          `private_key=${priv}`,
          'listen_port=51820',
          'fwmark=7',
          `public_key=${hexOf(p1)}`,
          `preshared_key=${'ab'.repeat(32)}`,
          'protocol_version=1',
          'endpoint=192.0.2.1:51820',
          'last_handshake_time_sec=1700000000',
          'last_handshake_time_nsec=250000000',
          'tx_bytes=100',
          'rx_bytes=200',
          'persistent_keepalive_interval=25',
          'allowed_ip=10.0.0.2/32',
          'allowed_ip=fd00::/64',
          `public_key=${hexOf(p2)}`,
          `preshared_key=${'0'.repeat(64)}`,
          'protocol_version=1',
          'last_handshake_time_sec=0',
          'last_handshake_time_nsec=0',
          'tx_bytes=0',
          'rx_bytes=0',
          'persistent_keepalive_interval=0',
          'some_future_key=whatever',
          'errno=0',
          '',
          '',
        ].join('\n'),
      );
    const state = await device.getInterface();
    expect(fake.requests).toEqual(['get=1\n\n']);
    expect(state.publicKey?.equals(me.publicKey)).toBe(true);
    expect(state.listenPort).toBe(51820);
    expect(state.peers).toHaveLength(2);
    expect(state.peers[0]).toMatchObject({
      endpoint: '192.0.2.1:51820',
      allowedIps: ['10.0.0.2/32', 'fd00::/64'],
      lastHandshakeAt: 1_700_000_000_250,
      rxBytes: 200,
      txBytes: 100,
      persistentKeepalive: 25,
      presharedKey: true,
    });
    expect(state.peers[0]!.publicKey.equals(p1)).toBe(true);
    expect(state.peers[1]).toMatchObject({ endpoint: null, allowedIps: [], lastHandshakeAt: 0, presharedKey: false });
    expect((await device.getPeer(p2))?.publicKey.equals(p2)).toBe(true);
    expect(await device.getPeer(generateKeyPair().publicKey)).toBeNull();
  });

  it('builds set requests in UAPI order with hex keys', async () => {
    const me = generateKeyPair();
    const peer = generateKeyPair().publicKey;
    const psk = generateKeyPair().privateKey;
    await device.setPrivateKey(me.privateKey);
    await device.setListenPort(4242);
    await device.upsertPeer({
      publicKey: peer,
      endpoint: '[2001:DB8::1]:51820',
      allowedIps: ['10.0.0.2/32', '10.1.0.0/16'],
      persistentKeepalive: 25,
      presharedKey: psk,
    });
    await device.upsertPeer({
      publicKey: peer.base64,
      allowedIps: ['10.2.0.0/24'],
      replaceAllowedIps: false,
      presharedKey: null,
    });
    await device.removePeer(peer);
    expect(fake.requests).toEqual([
      `set=1\nprivate_key=${Buffer.from(me.privateKey, 'base64').toString('hex')}\n\n`,
      'set=1\nlisten_port=4242\n\n',
      `set=1\npublic_key=${peer.hex}\npreshared_key=${Buffer.from(psk, 'base64').toString('hex')}\nendpoint=[2001:db8::1]:51820\npersistent_keepalive_interval=25\nreplace_allowed_ips=true\nallowed_ip=10.0.0.2/32\nallowed_ip=10.1.0.0/16\n\n`,
      `set=1\npublic_key=${peer.hex}\npreshared_key=${'0'.repeat(64)}\nallowed_ip=10.2.0.0/24\n\n`,
      `set=1\npublic_key=${peer.hex}\nremove=true\n\n`,
    ]);
  });

  it('maps a negative errno to ERR_WG_ERRNO naming the operation and value, with secrets redacted', async () => {
    fake.handler = (_r, s) => s.end('errno=-98\n\n');
    const err = await device.setListenPort(51820).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_WG_ERRNO', errno: -98, operation: 'setListenPort' });
    expect(String((err as Error).message)).toMatch(/EADDRINUSE.*listen_port=51820/);
    fake.handler = (_r, s) => s.end('errno=-22\n\n');
    const key = generateKeyPair().privateKey;
    const err2 = (await device.setPrivateKey(key).catch((e: unknown) => e)) as Error;
    expect(err2).toMatchObject({ code: 'ERR_WG_ERRNO', errno: -22, operation: 'setPrivateKey' });
    expect(err2.message).toContain('private_key=(redacted)');
    expect(err2.message).not.toContain(Buffer.from(key, 'base64').toString('hex'));
    const err3 = await device.getInterface().catch((e: unknown) => e);
    expect(err3).toMatchObject({ code: 'ERR_WG_ERRNO', errno: -22, operation: 'getInterface' });
  });

  it.each([
    ['no errno line', 'listen_port=1\n\n'],
    ['a line without =', 'garbage\nerrno=0\n\n'],
    ['a bad number', 'listen_port=12x\nerrno=0\n\n'],
    ['a bad key', 'public_key=1234\nerrno=0\n\n'],
    ['a bad allowed ip', `public_key=${'11'.repeat(32)}\nallowed_ip=nonsense\nerrno=0\n\n`],
    ['an empty reply', '\n\n'],
    ['a reply cut short', 'listen_port=1\nerrno='],
  ])('rejects a malformed get reply (%s) with ERR_WG_PROTOCOL', async (_name, reply) => {
    fake.handler = (_r, s) => s.end(reply);
    await expect(device.getInterface()).rejects.toMatchObject({ code: 'ERR_WG_PROTOCOL' });
  });

  it('rejects unexpected lines in a set reply with ERR_WG_PROTOCOL', async () => {
    fake.handler = (_r, s) => s.end('listen_port=1\nerrno=0\n\n');
    await expect(device.setListenPort(1)).rejects.toMatchObject({ code: 'ERR_WG_PROTOCOL' });
  });

  it('times out a device that never answers, and the next request still works', async () => {
    const held: Socket[] = [];
    fake.handler = (_r, s) => held.push(s);
    const t0 = performance.now();
    await expect(device.getInterface()).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(900);
    fake.handler = (_r, s) => s.end('listen_port=5\nerrno=0\n\n');
    expect((await device.getInterface()).listenPort).toBe(5);
    for (const s of held) s.destroy();
  });

  it('serialises requests per device and lets concurrent reads share one request', async () => {
    let replies = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    fake.handler = (req, s) => {
      replies++;
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      setTimeout(() => {
        inFlight--;
        s.end(req.startsWith('get') ? `listen_port=${replies}\nerrno=0\n\n` : 'errno=0\n\n');
      }, 20);
    };
    const ops = await Promise.all([
      device.setListenPort(1),
      device.getInterface(),
      device.getInterface(),
      device.getPeer(generateKeyPair().publicKey),
      device.setListenPort(2),
    ]);
    expect(maxInFlight).toBe(1);
    expect(fake.requests).toEqual(['set=1\nlisten_port=1\n\n', 'get=1\n\n', 'set=1\nlisten_port=2\n\n']);
    expect(ops[1]).toBe(ops[2]);
  });

  it('an aborted caller leaves a shared read without disturbing the others', async () => {
    fake.handler = (_r, s) => setTimeout(() => s.end('listen_port=9\nerrno=0\n\n'), 50);
    const ac = new AbortController();
    const a = device.getInterface({ signal: ac.signal });
    const b = device.getInterface();
    ac.abort();
    await expect(a).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expect((await b).listenPort).toBe(9);
  });

  /** A device with a listen port that `set` changes and `get` reports, answering after `delayMs`. */
  const statefulDevice = (delayMs: number) => {
    let port = 0;
    fake.handler = (req, s) => {
      const m = /listen_port=(\d+)/.exec(req);
      setTimeout(() => {
        if (m) port = Number(m[1]);
        s.end(req.startsWith('get') ? `listen_port=${port}\nerrno=0\n\n` : 'errno=0\n\n');
      }, delayMs);
    };
  };

  it('a long queue in front of a healthy device is not a timeout: the deadline measures the device, not the wait', async () => {
    statefulDevice(15);
    const slow = new UapiDevice('wg0', { socketPath: fake.path, timeoutMs: 100 });
    // 20 writes at once take ~300 ms in all, three deadlines; each one takes 15 ms.
    const writes = Array.from({ length: 20 }, (_, i) => slow.setListenPort(1000 + i));
    await Promise.all(writes);
    expect((await slow.getInterface()).listenPort).toBe(1019);
    expect(slow.stats).toMatchObject({ requests: 21, timeouts: 0 });
    expect(slow.stats.maxWaitMs).toBeGreaterThan(100);
    expect(slow.stats.maxQueued).toBe(19);
  });

  it('a device that stops answering fails the request on the wire and everything queued behind it, at one deadline', async () => {
    const held: Socket[] = [];
    fake.handler = (_r, s) => held.push(s);
    const t0 = performance.now();
    const results = await Promise.allSettled([
      device.setListenPort(1),
      device.getInterface(),
      device.upsertPeer({ publicKey: generateKeyPair().publicKey, allowedIps: ['10.0.0.2/32'] }),
    ]);
    const elapsed = performance.now() - t0;
    for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'ERR_TIMEOUT' } });
    expect(String((results[1] as PromiseRejectedResult).reason.message)).toContain('request ahead of it');
    expect(elapsed).toBeGreaterThanOrEqual(990);
    expect(elapsed).toBeLessThan(1900); // one deadline, not three in a row
    expect(fake.requests).toHaveLength(1); // the queued ones were never sent
    expect(device.stats.timeouts).toBe(3);
    for (const s of held) s.destroy();
    statefulDevice(0);
    expect((await device.getInterface()).listenPort).toBe(0);
  });

  it('a read asked for after a write sees it: a write is a barrier no read joins across', async () => {
    statefulDevice(20);
    const r1 = device.getInterface(); // on the wire at once
    const r2 = device.getInterface(); // waits
    const w = device.setListenPort(7);
    const r3 = device.getInterface(); // must not join r2, which runs before the write
    const r4 = device.getInterface(); // joins r3
    const [s1, s2, , s3, s4] = await Promise.all([r1, r2, w, r3, r4]);
    expect([s1.listenPort, s2.listenPort, s3.listenPort]).toEqual([0, 0, 7]);
    expect(s4).toBe(s3);
    expect(fake.requests).toEqual(['get=1\n\n', 'get=1\n\n', 'set=1\nlisten_port=7\n\n', 'get=1\n\n']);
    expect(device.stats).toMatchObject({ requests: 4, joinedReads: 1 });
  });

  it('peer writes issued together go as one set; a refused batch is retried peer by peer', async () => {
    const [a, b, bad] = [generateKeyPair().publicKey, generateKeyPair().publicKey, generateKeyPair().publicKey];
    // Refuses any set that names `bad`, as wireguard-go refuses a bad line.
    fake.handler = (req, s) => s.end(req.includes(bad.hex) ? 'errno=-22\n\n' : 'errno=0\n\n');
    const first = device.setListenPort(1); // on the wire while the peer writes queue up
    const results = await Promise.allSettled([
      device.upsertPeer({ publicKey: a, allowedIps: ['10.0.0.1/32'] }),
      device.removePeer(b),
      device.upsertPeer({ publicKey: bad, allowedIps: ['10.0.0.3/32'] }),
    ]);
    await first;
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({
      code: 'ERR_WG_ERRNO',
      operation: 'upsertPeer',
    });
    const one = (k: PeerKey) => `public_key=${k.hex}\nreplace_allowed_ips=true\nallowed_ip=`;
    expect(fake.requests).toEqual([
      'set=1\nlisten_port=1\n\n',
      `set=1\n${one(a)}10.0.0.1/32\npublic_key=${b.hex}\nremove=true\n${one(bad)}10.0.0.3/32\n\n`,
      `set=1\n${one(a)}10.0.0.1/32\n\n`,
      `set=1\npublic_key=${b.hex}\nremove=true\n\n`,
      `set=1\n${one(bad)}10.0.0.3/32\n\n`,
    ]);
    expect(device.stats).toMatchObject({ requests: 5, batchedWrites: 2 });
  });

  it('a caller that aborts while queued is dropped before its request is sent', async () => {
    statefulDevice(20);
    const first = device.setListenPort(1);
    const ac = new AbortController();
    const second = device.setListenPort(2, { signal: ac.signal });
    ac.abort();
    await expect(second).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    await first;
    expect((await device.getInterface()).listenPort).toBe(1);
    expect(fake.requests).toEqual(['set=1\nlisten_port=1\n\n', 'get=1\n\n']);
  });

  it('reports a missing or dead socket as ERR_WG_DEVICE_NOT_RUNNING', async () => {
    const missing = new UapiDevice('wg9', { socketPath: join(dir, 'nope.sock') });
    await expect(missing.getInterface()).rejects.toMatchObject({ code: 'ERR_WG_DEVICE_NOT_RUNNING' });
    const notSocket = join(dir, 'plain-file');
    writeFileSync(notSocket, '');
    const dead = new UapiDevice('wg9', { socketPath: notSocket });
    const err = await dead.setListenPort(1).catch((e: unknown) => e);
    expect(hasCode(err, 'ERR_WG_DEVICE_NOT_RUNNING')).toBe(true);
  });

  it('validates input before connecting', async () => {
    await expect(device.setPrivateKey('bad')).rejects.toMatchObject({ code: 'ERR_INVALID_KEY' });
    await expect(
      device.upsertPeer({ publicKey: generateKeyPair().publicKey, endpoint: '1.2.3.4' }),
    ).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
    await expect(device.setListenPort(1.5)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(fake.requests).toEqual([]);
    expect(() => new UapiDevice('../etc/passwd')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });
});

describe('parseGetReply', () => {
  it('treats an all-zero private key as none and ignores unknown device-level keys', () => {
    expect(parseGetReply([`private_key=${'0'.repeat(64)}`]).privateHex).toBeNull();
    expect(parseGetReply(['fwmark=3', 'new_device_key=1'])).toEqual({ privateHex: null, listenPort: 0, peers: [] });
  });
});
