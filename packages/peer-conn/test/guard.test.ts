import { FakeClock } from '@mesh/core';
import { describe, expect, it } from 'vitest';
import { Guard } from '../src/guard.js';

/** A guard on `clock` that records each tick's time and climbs its ladder (no jitter, 30 s cap). */
function climbing(clock: FakeClock): { g: Guard; at: number[] } {
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
  return { g, at };
}

describe('Guard', () => {
  it('ticks at once, then on a doubling ladder up to its per-peer cap, and settles', async () => {
    const clock = new FakeClock();
    const { g, at } = climbing(clock);
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

  it("parks while offline: no ticks, no ladder growth; the network's return ticks at once", async () => {
    const clock = new FakeClock();
    const { g, at } = climbing(clock);
    g.kick();
    await clock.advance(3_000); // ticks at 0, 800, 2400: the ladder is climbing
    expect(at).toEqual([0, 800, 2400]);
    g.park();
    g.kick(); // a path died meanwhile: remembered, not sent into no network
    await clock.advance(600_000);
    expect(at).toHaveLength(3);
    expect(clock.pendingTimers()).toBe(0);
    // Without parking the ladder would be at its 30 s cap now; back online it starts over at once.
    const back = clock.monotonic();
    g.unpark();
    await clock.advance(1_000);
    expect(at.slice(3)).toEqual([back, back + 800]);
  });

  it('unpark after a quiet park (nothing due) does not tick; park/unpark are idempotent', async () => {
    const clock = new FakeClock();
    let ticks = 0;
    const g = new Guard({ clock, onTick: () => ticks++ });
    g.park();
    g.park();
    g.unpark();
    g.unpark();
    await clock.advance(60_000);
    expect(ticks).toBe(0);
    expect(g.parked).toBe(false);
  });
});
