import { FakeClock } from '@mesh/core';
import { describe, expect, it } from 'vitest';
import { Guard } from '../src/guard.js';

describe('Guard', () => {
  it('ticks at once, then on a doubling ladder up to its per-peer cap, and settles', async () => {
    const clock = new FakeClock();
    const at: number[] = [];
    const g: Guard = new Guard({
      clock,
      jitter: 0,
      maxMs: 30_000,
      onTick: () => {
        at.push(clock.monotonic());
        g.again();
      },
    });
    g.kick();
    await clock.advance(120_000);
    expect(at.slice(0, 8)).toEqual([0, 800, 2400, 5600, 12_000, 24_800, 50_400, 80_400]);
    g.settle();
    const n = at.length;
    await clock.advance(600_000);
    expect(at.length).toBe(n);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('draws its cap from [30 s, 45 s) and kick restarts the ladder', async () => {
    const caps = Array.from({ length: 200 }, () => new Guard({ clock: new FakeClock(), onTick: () => {} }).capMs);
    expect(Math.min(...caps)).toBeGreaterThanOrEqual(30_000);
    expect(Math.max(...caps)).toBeLessThan(45_000);
    expect(new Set(caps).size).toBeGreaterThan(100);
    const clock = new FakeClock();
    let ticks = 0;
    const g: Guard = new Guard({
      clock,
      jitter: 0,
      onTick: () => {
        ticks++;
        g.again();
      },
    });
    g.kick();
    await clock.advance(10_000);
    const before = ticks;
    g.kick();
    await clock.advance(0);
    expect(ticks).toBe(before + 1);
    g.stop();
    g.kick();
    await clock.advance(100_000);
    expect(ticks).toBe(before + 1);
    expect(clock.pendingTimers()).toBe(0);
  });
});
