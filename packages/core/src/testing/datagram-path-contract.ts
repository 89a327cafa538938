import { afterEach, describe, expect, it } from 'vitest';
import { onceEvent } from '../async.js';
import type { DatagramPath } from '../datagram-path.js';

/** Two connected ends of a DatagramPath under test, and how to release them. */
export interface DatagramPathPair {
  /** One end. */
  a: DatagramPath;
  /** The other end. */
  b: DatagramPath;
  /** Releases everything the pair uses (sockets, servers); called after each test. */
  teardown(): Promise<void> | void;
}

/**
 * The behaviour every DatagramPath must have. Run it from an implementation's tests with a
 * factory that returns two connected ends:
 *
 *   describeDatagramPathContract('UdpPath', async () => { ...; return { a, b, teardown } });
 */
export function describeDatagramPathContract(name: string, setup: () => Promise<DatagramPathPair>): void {
  describe(`DatagramPath contract: ${name}`, () => {
    let pair: DatagramPathPair | undefined;
    const open = async () => {
      pair = await setup();
      return pair;
    };
    afterEach(async () => {
      await pair?.teardown();
      pair = undefined;
    });

    it('delivers a datagram in each direction, byte for byte', async () => {
      const { a, b } = await open();
      const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const atB = onceEvent(b, 'data', { timeoutMs: 5000 });
      expect(a.send(all)).toBe(true);
      const [got] = await atB;
      expect(Buffer.compare(got!, all)).toBe(0);
      const reply = Buffer.from('pong');
      const atA = onceEvent(a, 'data', { timeoutMs: 5000 });
      expect(b.send(reply)).toBe(true);
      expect(String((await atA)[0])).toBe('pong');
    });

    it('counts packets and bytes on both ends', async () => {
      const { a, b } = await open();
      const n = 20;
      let received = 0;
      const done = new Promise<void>((resolve) => {
        b.on('data', () => {
          if (++received === n) resolve();
        });
      });
      for (let i = 0; i < n; i++) a.send(Buffer.alloc(100, i));
      await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
      expect(received).toBe(n);
      expect(a.counters.txPackets).toBe(n);
      expect(a.counters.txBytes).toBe(n * 100);
      expect(a.counters.lastTxAt).toBeGreaterThan(0);
      expect(b.counters.rxPackets).toBe(n);
      expect(b.counters.rxBytes).toBe(n * 100);
      expect(b.counters.lastRxAt).toBeGreaterThan(0);
    });

    it('close() emits close once with reason local, is idempotent, and silences the path', async () => {
      const { a, b } = await open();
      const reasons: string[] = [];
      a.on('close', (info) => reasons.push(info.reason));
      a.close();
      a.close();
      expect(reasons).toEqual(['local']);
      expect(a.closed).toBe(true);
      expect(a.send(Buffer.from('late'))).toBe(false);
      const heard: Buffer[] = [];
      a.on('data', (d) => heard.push(d));
      b.send(Buffer.from('after close'));
      await new Promise((r) => setTimeout(r, 100));
      expect(heard).toEqual([]);
    });

    it('send never throws, whatever it is given', async () => {
      const { a } = await open();
      expect(() => a.send(Buffer.alloc(0))).not.toThrow();
      expect(() => a.send(Buffer.alloc(70_000))).not.toThrow();
      a.close();
      expect(() => a.send(Buffer.from('x'))).not.toThrow();
    });
  });
}
