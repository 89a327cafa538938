import { randomBytes } from 'node:crypto';
import { FakeClock, onceEvent, PeerKey } from '@mesh/core';
import type { SignalMessage } from '@mesh/peer-conn';
import { CloseCodes, identityFromPrivateKey, Sealer, type SignalClient } from '@mesh/signal-client';
import { describe, expect, it } from 'vitest';
import {
  collect,
  DEADLINE,
  keyPair,
  rawRegister,
  rawSocket,
  registerFrame,
  startClient,
  startServer,
} from './helpers.js';
import { MaliciousServer } from './malicious-server.js';

const OFFER: SignalMessage = {
  type: 'offer',
  version: 1,
  caps: ['ice', 'relay'],
  ice: { ufrag: 'UfragSecretXyz', pwd: 'IcePasswordThatMustStayPrivate', sessionId: 'a1b2c3d4e5' },
  relay: { url: 'rels://home-relay.internal:4443' },
  candidates: ['candidate:7 1 udp 1686052607 198.51.100.77 40000 typ srflx'],
};

const rejection = (c: SignalClient) => onceEvent(c, 'rejected', DEADLINE).then(([r]) => r);

describe('registration proves possession of the private key', () => {
  it('accepts a correct proof', async () => {
    const server = await startServer();
    const k = keyPair();
    const raw = await rawRegister(server.url, k.privateKey);
    expect(await raw.next()).toEqual({ type: 'registered', publicKey: k.publicKey.base64 });
  });

  it('refuses a client claiming a key it does not hold (a valid proof for another key)', async () => {
    const server = await startServer();
    const victim = await startClient(server.url);
    const rejected = onceEvent(server, 'rejected', DEADLINE);
    const raw = await rawRegister(server.url, keyPair().privateKey, victim.publicKey);
    expect((await raw.closed).code).toBe(CloseCodes.AUTH_FAILED);
    expect((await rejected)[0].cause).toBe('auth-failed');
    expect(server.stats().rejected['auth-failed']).toBe(1);
    // The victim's registration is untouched.
    expect(server.peers().map(String)).toEqual([victim.publicKey.base64]);
    expect(victim.connected).toBe(true);
  });

  it('refuses a random MAC and a low-order public key', async () => {
    const server = await startServer();
    for (const publicKey of [keyPair().publicKey.base64, PeerKey.fromBytes(new Uint8Array(32)).base64]) {
      const raw = await rawSocket(server.url);
      await raw.next();
      const rejected = onceEvent(server, 'rejected', DEADLINE);
      raw.ws.send(JSON.stringify({ type: 'register', publicKey, mac: randomBytes(32).toString('base64') }));
      expect((await raw.closed).code).toBe(CloseCodes.AUTH_FAILED);
      expect((await rejected)[0].cause).toBe('auth-failed');
    }
    expect(server.stats().rejected['auth-failed']).toBe(2);
  });

  it('refuses a proof replayed from another connection (fresh challenge each time)', async () => {
    const server = await startServer();
    const k = keyPair();
    const first = await rawSocket(server.url);
    const register = registerFrame(k.privateKey, await first.next());
    const second = await rawSocket(server.url);
    await second.next();
    second.ws.send(register);
    expect((await second.closed).code).toBe(CloseCodes.AUTH_FAILED);
  });
});

describe('the server cannot read', () => {
  it('forwards only ciphertext: no field of the offer appears in what the server handles', async () => {
    const server = await startServer();
    const a = await startClient(server.url);
    const b = await startClient(server.url);
    const forwarded = onceEvent(server, 'forward', DEADLINE);
    const delivered = collect(b, 1);
    await a.send(b.publicKey, OFFER);
    const [{ frame }] = await forwarded;
    expect((await delivered)[0]![1]).toEqual(OFFER); // it did carry the offer
    const envelope = JSON.parse(frame) as { type: string; from: string; box: string };
    expect(Object.keys(envelope).sort()).toEqual(['box', 'from', 'type']);
    const box = Buffer.from(envelope.box, 'base64');
    const secrets = [
      OFFER.ice!.ufrag,
      OFFER.ice!.pwd,
      OFFER.ice!.sessionId,
      OFFER.relay!.url,
      '198.51.100.77',
      'offer',
    ];
    for (const s of secrets) {
      expect(frame).not.toContain(s);
      expect(box.includes(Buffer.from(s))).toBe(false);
    }
  });
});

describe('the server cannot forge', () => {
  it('a box sealed by another key but claiming A is rejected by B: bad-tag', async () => {
    const evil = await MaliciousServer.start();
    const a = keyPair();
    const b = await startClient(evil.url);
    const attacker = new Sealer(identityFromPrivateKey(keyPair().privateKey));
    const { box } = attacker.seal(b.publicKey, Buffer.from(JSON.stringify(OFFER)), Date.now());
    box.set(a.publicKey.bytes(), 1); // claim A as the sealed sender too
    const r = rejection(b);
    const got: unknown[] = [];
    b.on('message', (_f, m) => got.push(m));
    evil.inject(b.publicKey.base64, { from: a.publicKey.base64, box });
    expect(await r).toMatchObject({ reason: 'bad-tag' });
    expect((await r).from?.equals(a.publicKey)).toBe(true);
    expect(got).toEqual([]);
    expect(b.stats().rejected['bad-tag']).toBe(1);
  });

  it('a genuine box from C relabelled as coming from A is rejected: bad-sender', async () => {
    const evil = await MaliciousServer.start();
    const a = keyPair();
    const b = await startClient(evil.url);
    const c = await startClient(evil.url);
    // B accepts C's genuine frame over this server...
    const genuine = collect(b, 1);
    await c.send(b.publicKey, OFFER);
    expect((await genuine)[0]![0].equals(c.publicKey)).toBe(true);
    // ...but not the same box once the server says it comes from A.
    const r = rejection(b);
    const captured = JSON.parse(evil.forwarded[0]!.frame) as { box: string };
    evil.inject(b.publicKey.base64, { from: a.publicKey.base64, box: captured.box });
    expect(await r).toMatchObject({ reason: 'bad-sender' });
    expect(b.stats()).toMatchObject({ received: 1, rejected: { 'bad-sender': 1 } });
  });

  it('a tampered ciphertext, nonce or timestamp is rejected: bad-tag; a box for someone else: bad-recipient', async () => {
    const evil = await MaliciousServer.start();
    const a = await startClient(evil.url);
    const b = await startClient(evil.url);
    const c = await startClient(evil.url);
    let original = '';
    const first = collect(b, 1);
    await a.send(b.publicKey, OFFER);
    await first;
    original = (JSON.parse(evil.forwarded[0]!.frame) as { box: string }).box;
    const box = Buffer.from(original, 'base64');
    const flips = [
      box.length - 20 /* ciphertext */,
      box.length - 1 /* tag */,
      90 /* nonce */,
      84 /* timestamp */,
      70 /* id */,
    ];
    for (const at of flips) {
      const t = Buffer.from(box);
      t[at]! ^= 0x01;
      const r = rejection(b);
      evil.inject(b.publicKey.base64, { from: a.publicKey.base64, box: t });
      expect((await r).reason, `flip at ${at}`).toBe('bad-tag');
    }
    const r = rejection(c);
    evil.inject(c.publicKey.base64, { from: a.publicKey.base64, box });
    expect((await r).reason).toBe('bad-recipient');
    expect(b.stats()).toMatchObject({ received: 1, rejected: { 'bad-tag': flips.length } });
  });

  it('the exact same frame re-sent is rejected: replay', async () => {
    const evil = await MaliciousServer.start();
    const a = await startClient(evil.url);
    const b = await startClient(evil.url);
    const first = collect(b, 1);
    await a.send(b.publicKey, OFFER);
    await first;
    const r = rejection(b);
    evil.inject(b.publicKey.base64, evil.forwarded[0]!.frame);
    expect(await r).toMatchObject({ reason: 'replay' });
    expect(b.stats()).toMatchObject({ received: 1, rejected: { replay: 1 } });
  });

  it('mid-session garbage from the server is counted as malformed and the session goes on', async () => {
    const evil = await MaliciousServer.start();
    const a = await startClient(evil.url);
    const b = await startClient(evil.url);
    for (const junk of ['not json', '{"type":"message","from":"x","box":"!!"}', '[1,2]']) {
      const r = rejection(b);
      evil.inject(b.publicKey.base64, junk);
      expect((await r).reason).toBe('malformed');
    }
    const got = collect(b, 1);
    await a.send(b.publicKey, OFFER);
    expect((await got)[0]![1]).toEqual(OFFER);
    expect(b.stats().rejected.malformed).toBe(3);
    expect(b.connected).toBe(true);
  });
});

describe('freshness', () => {
  it('rejects a message stamped outside the window (past and future), accepts it with a wider window', async () => {
    const server = await startServer();
    const past = await startClient(server.url, { clock: new FakeClock(Date.now() - 3 * 60_000) });
    const future = await startClient(server.url, { clock: new FakeClock(Date.now() + 3 * 60_000) });
    const b = await startClient(server.url);
    const lenient = await startClient(server.url, { freshnessWindowMs: 10 * 60_000 });
    for (const sender of [past, future]) {
      const r = rejection(b);
      await sender.send(b.publicKey, OFFER);
      expect(await r).toMatchObject({ reason: 'stale' });
    }
    const got = collect(lenient, 1);
    await past.send(lenient.publicKey, OFFER);
    expect((await got)[0]![1]).toEqual(OFFER);
    expect(b.stats()).toMatchObject({ received: 0, rejected: { stale: 2 } });
  });
});

describe('garbage from clients', () => {
  it('random bytes, bad JSON, wrong frames and oversize close only that connection; a healthy pair keeps talking', async () => {
    const server = await startServer({ maxMessageBytes: 4096 });
    const a = await startClient(server.url, { maxMessageBytes: 4096 });
    const b = await startClient(server.url, { maxMessageBytes: 4096 });
    const registered = keyPair();
    const junk: Array<{ registerFirst: boolean; send: string | Buffer; code: number }> = [
      { registerFirst: false, send: randomBytes(200), code: CloseCodes.PROTOCOL_ERROR },
      { registerFirst: false, send: '{"type":"register"', code: CloseCodes.PROTOCOL_ERROR },
      {
        registerFirst: false,
        send: JSON.stringify({ type: 'send', to: a.publicKey.base64, box: 'AAAA' }),
        code: CloseCodes.PROTOCOL_ERROR,
      },
      { registerFirst: false, send: 'x'.repeat(5000), code: 1009 },
      { registerFirst: true, send: randomBytes(64), code: CloseCodes.PROTOCOL_ERROR },
      {
        registerFirst: true,
        send: JSON.stringify({ type: 'send', to: 'nope', box: 'AAAA' }),
        code: CloseCodes.PROTOCOL_ERROR,
      },
      {
        registerFirst: true,
        send: JSON.stringify({ type: 'send', to: a.publicKey.base64, box: '%%%' }),
        code: CloseCodes.PROTOCOL_ERROR,
      },
      {
        registerFirst: true,
        send: JSON.stringify({ type: 'send', to: a.publicKey.base64, box: 'A'.repeat(5000) }),
        code: 1009,
      },
    ];
    for (const [i, j] of junk.entries()) {
      const raw = j.registerFirst ? await rawRegister(server.url, registered.privateKey) : await rawSocket(server.url);
      await raw.next(); // challenge, or registered
      const ended = onceEvent(server, j.registerFirst ? 'unregistered' : 'rejected', DEADLINE);
      raw.ws.send(j.send);
      expect((await raw.closed).code, `junk #${i}`).toBe(j.code);
      await ended;
      // After each one, the healthy pair still talks.
      const got = collect(b, 1);
      await a.send(b.publicKey, OFFER);
      expect((await got)[0]![0].equals(a.publicKey)).toBe(true);
    }
    const st = server.stats();
    expect(st.rejected['protocol-error'] + st.rejected.oversize).toBe(4);
    expect(st.unregistered['protocol-error'] + st.unregistered.oversize).toBe(4);
    expect(st.rejected.oversize + st.unregistered.oversize).toBe(2);
    expect(a.connected && b.connected).toBe(true);
  });

  it('a flooding peer is rate limited (dropped and counted) without hurting others', async () => {
    const server = await startServer({ rateLimit: { messagesPerSecond: 1, burst: 5 } });
    const a = await startClient(server.url);
    const b = await startClient(server.url);
    const c = await startClient(server.url);
    const got = collect(b, 5);
    for (let i = 0; i < 20; i++) await a.send(b.publicKey, OFFER);
    await got;
    const fromC = collect(b, 1);
    await c.send(b.publicKey, OFFER);
    expect((await fromC)[0]![0].equals(c.publicKey)).toBe(true);
    await expect.poll(() => server.stats().dropped['rate-limited'], { timeout: 5_000 }).toBeGreaterThanOrEqual(14);
    expect(b.stats().received).toBeLessThanOrEqual(7);
  });
});
