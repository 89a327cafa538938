import { describe, expect, it } from 'vitest';
import { FakeClock, hasCode, SystemClock } from '../src/index.js';

describe('FakeClock', () => {
  it('fires timers in due order, intervals repeatedly, and cancels', async () => {
    const c = new FakeClock(1000);
    const seen: string[] = [];
    c.setTimeout(() => seen.push(`b@${c.monotonic()}`), 20);
    c.setTimeout(() => seen.push(`a@${c.monotonic()}`), 10);
    const cancelled = c.setTimeout(() => seen.push('never'), 15);
    const iv = c.setInterval(() => seen.push(`i@${c.monotonic()}`), 8);
    cancelled.cancel();
    await c.advance(25);
    iv.cancel();
    expect(seen).toEqual(['i@8', 'a@10', 'i@16', 'b@20', 'i@24']);
    expect(c.monotonic()).toBe(25);
    expect(c.now()).toBe(1025);
    expect(c.pendingTimers()).toBe(0);
  });

  it('runs timers scheduled by async code during advance', async () => {
    const c = new FakeClock();
    const seen: number[] = [];
    const loop = async () => {
      for (let i = 0; i < 3; i++) {
        await c.sleep(100);
        seen.push(c.monotonic());
      }
    };
    const done = loop();
    await c.advance(1000);
    await done;
    expect(seen).toEqual([100, 200, 300]);
  });

  it('jump moves wall time only', async () => {
    const c = new FakeClock(0);
    c.jump(600_000);
    expect(c.now()).toBe(600_000);
    expect(c.monotonic()).toBe(0);
  });

  it('sleep rejects with ERR_ABORTED on abort and leaves no timer', async () => {
    const c = new FakeClock();
    const ac = new AbortController();
    const p = c.sleep(1000, { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toSatisfy((e: unknown) => hasCode(e, 'ERR_ABORTED'));
    expect(c.pendingTimers()).toBe(0);
    await expect(c.sleep(1, { signal: ac.signal })).rejects.toSatisfy((e: unknown) => hasCode(e, 'ERR_ABORTED'));
  });

  it('runNext jumps straight to the next timer', async () => {
    const c = new FakeClock();
    let fired = false;
    c.setTimeout(() => {
      fired = true;
    }, 5000);
    expect(await c.runNext()).toBe(true);
    expect(fired).toBe(true);
    expect(c.monotonic()).toBe(5000);
    expect(await c.runNext()).toBe(false);
  });
});

describe('SystemClock', () => {
  it('sleeps for real and its timers can be cancelled', async () => {
    const c = new SystemClock();
    const t0 = c.monotonic();
    await c.sleep(20);
    expect(c.monotonic() - t0).toBeGreaterThanOrEqual(15);
    let fired = false;
    c.setTimeout(() => {
      fired = true;
    }, 5).cancel();
    await c.sleep(20);
    expect(fired).toBe(false);
    expect(Math.abs(c.now() - Date.now())).toBeLessThan(50);
  });
});
