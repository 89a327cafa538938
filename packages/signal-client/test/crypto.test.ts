import { describe, expect, it } from 'vitest';
import {
  answerChallenge,
  createChallenge,
  identityFromPrivateKey,
  Sealer,
  verifyChallenge,
} from '../src/protocol/crypto.js';
import { ReplayCache } from '../src/replay-cache.js';
import { keyPair } from './helpers.js';

describe('identityFromPrivateKey', () => {
  it('derives the same public key WireGuard does (X25519 base point multiplication)', () => {
    const k = keyPair();
    expect(identityFromPrivateKey(k.privateKey).publicKey.equals(k.publicKey)).toBe(true);
    // RFC 7748 §6.1 test vector (Alice), as WireGuard base64.
    const alice = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex').toString(
      'base64',
    );
    expect(identityFromPrivateKey(alice).publicKey.hex).toBe(
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    );
  });

  it('rejects anything but 32 bytes of canonical base64', () => {
    for (const bad of ['', 'abc', Buffer.alloc(31).toString('base64'), `${keyPair().privateKey}x`]) {
      expect(() => identityFromPrivateKey(bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_KEY' }));
    }
  });
});

describe('registration proof', () => {
  it('verifies only for the key that produced it and only for its challenge', () => {
    const me = identityFromPrivateKey(keyPair().privateKey);
    const other = identityFromPrivateKey(keyPair().privateKey);
    const ch = createChallenge();
    const mac = answerChallenge(me, ch);
    expect(verifyChallenge(ch, me.publicKey, mac)).toBe(true);
    expect(verifyChallenge(ch, other.publicKey, mac)).toBe(false);
    expect(verifyChallenge(createChallenge(), me.publicKey, mac)).toBe(false);
    expect(verifyChallenge(ch, me.publicKey, mac.subarray(1))).toBe(false);
  });
});

describe('Sealer', () => {
  const a = identityFromPrivateKey(keyPair().privateKey);
  const b = identityFromPrivateKey(keyPair().privateKey);
  const sa = new Sealer(a);
  const sb = new Sealer(b);
  const text = Buffer.from('{"hello":"world"}');

  it('opens what the peer sealed, with the header it sealed', () => {
    const { box, messageId } = sa.seal(b.publicKey, text, 1_700_000_000_123);
    const r = sb.open(a.publicKey, box);
    expect(r.ok && r.plaintext.equals(text)).toBe(true);
    expect(r.ok && r.header).toMatchObject({ messageId, timestamp: 1_700_000_000_123 });
  });

  it('is direction-specific: a box A→B reflected back to A does not open', () => {
    const { box } = sa.seal(b.publicKey, text, Date.now());
    // Rewrite the header so it claims B→A: the layout checks pass, the key does not.
    const reflected = Buffer.from(box);
    reflected.set(b.publicKey.bytes(), 1);
    reflected.set(a.publicKey.bytes(), 33);
    expect(sa.open(b.publicKey, reflected)).toEqual({ ok: false, reason: 'bad-tag' });
  });

  it('never repeats a nonce or message id', () => {
    const ids = new Set<string>();
    const nonces = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { box, messageId } = sa.seal(b.publicKey, text, 0);
      ids.add(messageId);
      nonces.add(box.subarray(89, 101).toString('hex'));
    }
    expect(ids.size).toBe(200);
    expect(nonces.size).toBe(200);
  });

  it('reports malformed boxes without throwing', () => {
    expect(sb.open(a.publicKey, Buffer.alloc(10))).toEqual({ ok: false, reason: 'malformed' });
    const { box } = sa.seal(b.publicKey, text, 0);
    box[0] = 9; // unknown version
    expect(sb.open(a.publicKey, box)).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('ReplayCache', () => {
  it('accepts once, refuses the same id again, refuses outside the window', () => {
    const c = new ReplayCache({ windowMs: 1_000, maxEntries: 100 });
    expect(c.check('x', 10_000, 10_000)).toBe('fresh');
    expect(c.check('x', 10_000, 10_500)).toBe('replay');
    expect(c.check('y', 8_999, 10_000)).toBe('stale');
    expect(c.check('z', 11_001, 10_000)).toBe('stale');
  });

  it('stays bounded, and an evicted id cannot be replayed (the floor rises)', () => {
    const c = new ReplayCache({ windowMs: 60_000, maxEntries: 3 });
    for (let i = 0; i < 10; i++) expect(c.check(`id${i}`, 1_000 + i, 1_000)).toBe('fresh');
    expect(c.size).toBe(3);
    expect(c.check('id0', 1_000, 1_000)).toBe('stale'); // evicted, but not acceptable again
    expect(c.check('late', 1_005, 1_000)).toBe('stale'); // below the floor
    expect(c.check('new', 1_010, 1_000)).toBe('fresh');
  });

  it('forgets expired ids without reopening them when the wall clock steps back', () => {
    const c = new ReplayCache({ windowMs: 1_000, maxEntries: 100 });
    expect(c.check('a', 5_000, 5_000)).toBe('fresh');
    expect(c.check('b', 9_000, 9_000)).toBe('fresh'); // expires 'a'
    expect(c.size).toBe(1);
    expect(c.check('a', 5_000, 5_000)).toBe('stale'); // clock stepped back to 5 s: still refused
  });
});
