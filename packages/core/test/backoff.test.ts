import { describe, expect, it } from 'vitest';
import { Backoff, hasCode } from '../src/index.js';

describe('Backoff', () => {
  it('grows exponentially to the cap and resets', () => {
    const b = new Backoff({ initial: 800, multiplier: 2, max: 30_000, jitter: 0 });
    const delays = Array.from({ length: 8 }, () => b.next());
    expect(delays).toEqual([800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000]);
    expect(b.attempt).toBe(8);
    b.reset();
    expect(b.next()).toBe(800);
  });

  it('keeps every jittered delay within ±jitter of the ladder', () => {
    const b = new Backoff({ initial: 1000, max: 8000, jitter: 0.5 });
    for (let round = 0; round < 200; round++) {
      b.reset();
      for (const base of [1000, 2000, 4000, 8000, 8000]) {
        const d = b.next();
        expect(d).toBeGreaterThanOrEqual(base * 0.5);
        expect(d).toBeLessThanOrEqual(base * 1.5);
      }
    }
  });

  it('really spreads retries: 1000 peers restarting at once do not come back in lockstep', () => {
    const firsts = Array.from({ length: 1000 }, () => new Backoff({ initial: 2000, max: 60_000, jitter: 0.5 }).next());
    // Bucket into 100 ms slots across the 1–3 s window; lockstep would put everything in one slot.
    const slots = new Map<number, number>();
    for (const d of firsts) slots.set(Math.floor(d / 100), (slots.get(Math.floor(d / 100)) ?? 0) + 1);
    expect(slots.size).toBeGreaterThanOrEqual(18);
    expect(Math.max(...slots.values())).toBeLessThan(120);
    const mean = firsts.reduce((a, b) => a + b, 0) / firsts.length;
    expect(mean).toBeGreaterThan(1850);
    expect(mean).toBeLessThan(2150);
  });

  it('uses the injected random source', () => {
    const lo = new Backoff({ initial: 1000, max: 1000, jitter: 0.2, random: () => 0 });
    const hi = new Backoff({ initial: 1000, max: 1000, jitter: 0.2, random: () => 0.999999 });
    expect(lo.next()).toBe(800);
    expect(hi.next()).toBe(1200);
  });

  it('rejects nonsense options with ERR_INVALID_ARGUMENT', () => {
    for (const opts of [
      { initial: 0, max: 10 },
      { initial: 10, max: 5 },
      { initial: 1, max: 5, multiplier: 0.5 },
      { initial: 1, max: 5, jitter: 2 },
    ]) {
      let err: unknown;
      try {
        new Backoff(opts);
      } catch (e) {
        err = e;
      }
      expect(hasCode(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    }
  });
});
