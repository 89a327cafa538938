import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  encodeRelayToken,
  generateRelayToken,
  relayTokenFromManagement,
  relayTokenKey,
  verifyRelayToken,
} from '../src/index.js';

// Golden token, computed with openssl (not with the code under test):
//   key = sha256("supersecret") = f75778f7…07f7; payload "1700003600";
//   openssl dgst -sha256 -mac HMAC -macopt hexkey:<key>  → bbf40506…0b1a
const SIGNATURE = 'bbf40506eef0676b990a0e50e4ed8b3dd6be81b3fd65cb2b74ba85ca6ad50b1a';
const GOLDEN = Buffer.from(`01${SIGNATURE}${Buffer.from('1700003600').toString('hex')}`, 'hex');
const NOW = 1_700_000_000_000;

describe('relay token v2', () => {
  it('generates the exact golden bytes', () => {
    const token = generateRelayToken('supersecret', { now: NOW, ttlMs: 3_600_000 });
    expect(token.toString('hex')).toBe(GOLDEN.toString('hex'));
  });

  it('the HMAC key is SHA-256 of the secret', () => {
    expect(relayTokenKey('supersecret').hmacKey.toString('hex')).toBe(
      'f75778f7425be4db0369d09af37a6c2b9a83dea0e53e7bd57412e4b060e607f7',
    );
  });

  it('validates the golden token until (and including) its expiry second', () => {
    expect(verifyRelayToken(GOLDEN, 'supersecret', { now: NOW })).toEqual({
      valid: true,
      expiresAt: 1_700_003_600_000,
    });
    expect(verifyRelayToken(GOLDEN, relayTokenKey('supersecret'), { now: 1_700_003_600_999 }).valid).toBe(true);
    expect(verifyRelayToken(GOLDEN, 'supersecret', { now: 1_700_003_601_000 })).toEqual({
      valid: false,
      reason: 'expired',
    });
  });

  it('round-trips generate → verify with the default TTL (12 h)', () => {
    const token = generateRelayToken('s3', { now: NOW });
    expect(verifyRelayToken(token, 's3', { now: NOW + 12 * 3600_000 }).valid).toBe(true);
    expect(verifyRelayToken(token, 's3', { now: NOW + 12 * 3600_000 + 1000 }).valid).toBe(false);
  });

  it.each([
    ['empty', Buffer.alloc(0), 'malformed'],
    ['only algo + 31 bytes', Buffer.alloc(32, 1), 'malformed'],
    ['wrong secret', generateRelayToken('other', { now: NOW }), 'signature'],
    ['algorithm 2', Buffer.concat([Buffer.from([2]), GOLDEN.subarray(1)]), 'algorithm'],
    ['flipped signature bit', Buffer.from(GOLDEN.map((b, i) => (i === 5 ? b ^ 1 : b))), 'signature'],
    ['payload changed', Buffer.concat([GOLDEN.subarray(0, 33), Buffer.from('1700003601')]), 'signature'],
    ['oversize (171 bytes)', Buffer.alloc(171, 1), 'oversize'],
  ])('rejects %s', (_n, token, reason) => {
    expect(verifyRelayToken(token, 'supersecret', { now: NOW })).toEqual({ valid: false, reason });
  });

  it('rejects a correctly signed payload that is not a ≥10-digit number', () => {
    const key = relayTokenKey('k');
    for (const payload of ['170000000', '+1700000000', '17000000x0', ' 1700000000']) {
      const signed = Buffer.from(payload);
      const sig = createHmac('sha256', key.hmacKey).update(signed).digest();
      const token = encodeRelayToken({ algo: 1, signature: sig, payload: signed });
      expect(verifyRelayToken(token, key, { now: NOW })).toEqual({ valid: false, reason: 'payload' });
    }
  });

  it('builds the binary form from management JSON ({payload, signature base64})', () => {
    const token = relayTokenFromManagement({
      payload: '1700003600',
      signature: Buffer.from(SIGNATURE, 'hex').toString('base64'),
    });
    expect(token).toEqual(GOLDEN);
    expect(() => relayTokenFromManagement({ payload: '1', signature: 'AAAA' })).toThrow(/32 bytes/);
  });
});
