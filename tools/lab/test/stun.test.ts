import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isStun, parseStunBindingResponse, stunBindingRequest, stunBindingResponse } from '../src/stun.js';

describe('STUN', () => {
  it('builds a binding request', () => {
    const req = stunBindingRequest(Buffer.alloc(12, 7));
    expect(req.length).toBe(20);
    expect(req.readUInt16BE(0)).toBe(1);
    expect(req.readUInt32BE(4)).toBe(0x2112a442);
    expect(isStun(req)).toBe(true);
    expect(parseStunBindingResponse(req)).toBeUndefined(); // a request is not a response
  });

  it('round-trips XOR-MAPPED-ADDRESS', () => {
    const tx = randomBytes(12);
    const res = stunBindingResponse(tx, '203.0.113.2', 40_001);
    expect(parseStunBindingResponse(res)).toEqual({
      address: '203.0.113.2',
      port: 40_001,
      transactionId: tx.toString('hex'),
    });
  });

  it('rejects truncated and non-STUN input without throwing', () => {
    const res = stunBindingResponse(randomBytes(12), '198.51.100.2', 3478);
    expect(parseStunBindingResponse(res.subarray(0, 28))).toBeUndefined();
    expect(parseStunBindingResponse(Buffer.from([1, 0, 0, 0]))).toBeUndefined();
    const bad = Buffer.from(res);
    bad.writeUInt16BE(200, 22); // attribute longer than the message
    expect(parseStunBindingResponse(bad)).toBeUndefined();
    expect(isStun(Buffer.from('hello world, not stun at all'))).toBe(false);
  });
});
