import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hasCode, PeerKey } from '../src/index.js';

const A = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const B = 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=';

describe('PeerKey', () => {
  it('parses base64 and round-trips hex and bytes', () => {
    const k = PeerKey.parse(A);
    expect(k.base64).toBe(A);
    expect(k.hex).toHaveLength(64);
    expect(PeerKey.fromHex(k.hex).equals(k)).toBe(true);
    expect(PeerKey.fromBytes(k.bytes()).base64).toBe(A);
    expect(PeerKey.from(k.hex).equals(k)).toBe(true);
    expect(PeerKey.from(` ${A}\n`).equals(k)).toBe(true);
  });

  it('accepts real X25519 public keys', () => {
    const { publicKey } = generateKeyPairSync('x25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const k = PeerKey.fromBytes(raw);
    expect(PeerKey.parse(k.base64).equals(k)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['short', 'abc='],
    ['33 bytes', Buffer.alloc(33).toString('base64')],
    ['31 bytes', Buffer.alloc(31).toString('base64')],
    ['bad char', `${A.slice(0, 10)}!${A.slice(11)}`],
    ['non-canonical padding bits', `${A.slice(0, 42)}h=`],
  ])('rejects %s with ERR_INVALID_KEY', (_name, text) => {
    let caught: unknown;
    try {
      PeerKey.parse(text);
    } catch (e) {
      caught = e;
    }
    expect(hasCode(caught, 'ERR_INVALID_KEY')).toBe(true);
    expect(String((caught as Error).message)).toMatch(/invalid WireGuard key/);
  });

  it('rejects bad hex and wrong byte counts', () => {
    expect(() => PeerKey.fromHex('zz')).toThrow(/64 hex digits/);
    expect(() => PeerKey.fromBytes(new Uint8Array(31))).toThrow(/32 bytes/);
    // biome-ignore lint/suspicious/noExplicitAny: testing a wrong runtime type
    expect(() => PeerKey.parse(42 as any)).toThrow(/must be a string/);
  });

  it('orders by base64 text and picks exactly one controller', () => {
    const a = PeerKey.parse(A);
    const b = PeerKey.parse(B);
    expect(a.compare(b)).toBe(1);
    expect(b.compare(a)).toBe(-1);
    expect(a.compare(a)).toBe(0);
    expect(a.isControllerFor(b)).toBe(true);
    expect(b.isControllerFor(a)).toBe(false);
    expect(JSON.stringify({ k: a })).toBe(`{"k":"${A}"}`);
    expect(a.toShortString()).toBe(A.slice(0, 8));
  });

  it('takes a PeerKey from another copy of @mesh/core, and copies bytes() out', () => {
    const k = PeerKey.parse(A);
    const foreign = { base64: A, equals: () => false } as unknown as PeerKey; // instanceof fails
    const own = PeerKey.from(foreign);
    expect(own).toBeInstanceOf(PeerKey);
    expect(own.equals(k)).toBe(true);
    const bytes = k.bytes();
    bytes.fill(0);
    expect(k.base64).toBe(A);
    expect(k.bytes()).toEqual(new Uint8Array(Buffer.from(A, 'base64')));
    expect(Object.keys(k)).toEqual(['base64']);
  });
});
