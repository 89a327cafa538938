import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { genkey, pubkey } from '../src/index.js';

const wg = (args: string[], input?: string) => execFileSync('wg', args, { input, encoding: 'utf8' });

describe('genkey / pubkey', () => {
  it('genkey prints a clamped 32-byte key in base64 with a newline, like wg genkey', () => {
    const text = genkey();
    expect(text).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    const raw = Buffer.from(text, 'base64');
    expect(raw.length).toBe(32);
    expect(raw[0]! & 7).toBe(0);
    expect(raw[31]! & 0xc0).toBe(0x40);
    expect(genkey()).not.toBe(text);
  });

  it('matches the real wg tool both ways', () => {
    for (let i = 0; i < 5; i++) {
      const theirs = wg(['genkey']);
      expect(pubkey(theirs)).toBe(wg(['pubkey'], theirs));
      const ours = genkey();
      expect(pubkey(ours)).toBe(wg(['pubkey'], ours));
    }
    // wg pubkey clamps any 32 bytes; so do we.
    const unclamped = `${Buffer.alloc(32, 0xff).toString('base64')}\n`;
    expect(pubkey(unclamped)).toBe(wg(['pubkey'], unclamped));
  });

  it('pubkey rejects garbage with ERR_INVALID_KEY and never echoes it', () => {
    expect(() => pubkey('secret-garbage\n')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_KEY' }));
    try {
      pubkey('secret-garbage\n');
    } catch (err) {
      expect((err as Error).message).not.toContain('secret-garbage');
    }
  });
});
