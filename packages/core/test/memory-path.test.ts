import { describe, expect, it } from 'vitest';
import { MemoryPath } from '../src/index.js';
import { describeDatagramPathContract } from '../src/testing/contract.js';

describeDatagramPathContract('MemoryPath', async () => {
  const [a, b] = MemoryPath.pair();
  return {
    a,
    b,
    teardown: () => {
      a.close();
      b.close();
    },
  };
});

describe('MemoryPath faults', () => {
  it('black-holes when delivery is off and reports kill reasons', async () => {
    const [a, b] = MemoryPath.pair();
    const got: Buffer[] = [];
    b.on('data', (d) => got.push(d));
    a.setDeliver(false);
    expect(a.send(Buffer.from('x'))).toBe(true);
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toHaveLength(0);
    const reasons: string[] = [];
    b.on('close', (i) => reasons.push(i.reason));
    b.kill('relay-gone');
    expect(reasons).toEqual(['relay-gone']);
  });
});
