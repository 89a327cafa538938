import { hasCode } from '@mesh/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { generateKeyPair, Lab } from '../src/index.js';

describe('Lab without root', () => {
  afterEach(() => vi.restoreAllMocks());

  it('refuses with ERR_LAB_NOT_ROOT and builds nothing', async () => {
    vi.spyOn(process, 'getuid').mockReturnValue(1000);
    const err = await Lab.create({ runId: 'nr1' }).catch((e: unknown) => e);
    expect(hasCode(err, 'ERR_LAB_NOT_ROOT')).toBe(true);
    expect((err as Error).message).toMatch(/root/);
  });
});

describe('generateKeyPair', () => {
  it('gives 32-byte base64 WireGuard keys, different every time', () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    for (const k of [a.privateKey, a.publicKey]) expect(Buffer.from(k, 'base64')).toHaveLength(32);
    expect(a.privateKey).not.toBe(b.privateKey);
  });
});
