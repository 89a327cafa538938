import { describe, expect, it } from 'vitest';
import { FakeClock, SendLiveness, type TimeoutError } from '../src/index.js';

/** A started SendLiveness on a fake clock (2 s idle, 3 s pong timeout) recording pings and deaths. */
function setup(bounds: { idleMs?: number; pongTimeoutMs?: number } = {}) {
  const clock = new FakeClock();
  const pings: number[] = [];
  const deaths: Array<{ at: number; error: TimeoutError }> = [];
  const liveness = new SendLiveness({
    clock,
    idleMs: bounds.idleMs ?? 2_000,
    pongTimeoutMs: bounds.pongTimeoutMs ?? 3_000,
    ping: () => pings.push(clock.monotonic()),
    dead: (error) => deaths.push({ at: clock.monotonic(), error }),
  });
  liveness.start('test link');
  return { clock, liveness, pings, deaths };
}

describe('SendLiveness', () => {
  it('a send into idleMs of silence pings at once; nothing within pongTimeoutMs is dead, once', async () => {
    const { clock, liveness, pings, deaths } = setup();
    await clock.advance(2_000);
    liveness.sent();
    liveness.sent(); // joins the ping in flight
    expect(pings).toEqual([2_000]);
    await clock.advance(2_999);
    expect(deaths).toEqual([]);
    await clock.advance(1);
    expect(deaths.map((d) => d.at)).toEqual([5_000]);
    expect(deaths[0]!.error).toMatchObject({ code: 'ERR_TIMEOUT' });
    expect(deaths[0]!.error.message).toContain('test link sent nothing within 3000 ms');
    // Stopped by then: more sends neither ping nor die again.
    liveness.sent();
    await clock.advance(60_000);
    expect(pings).toHaveLength(1);
    expect(deaths).toHaveLength(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a send soon after the last arrival pings when the silence reaches idleMs: dead within idle + pong of that send', async () => {
    const { clock, liveness, pings, deaths } = setup();
    await clock.advance(500);
    liveness.sent();
    await clock.advance(1_000);
    liveness.sent(); // the probe is already armed
    expect(pings).toEqual([]);
    await clock.advance(500);
    expect(pings).toEqual([2_000]);
    await clock.advance(3_000);
    expect(deaths.map((d) => d.at)).toEqual([5_000]);
  });

  it('anything arriving answers the ping; arrivals after a send cancel its probe (a busy link never pings)', async () => {
    const { clock, liveness, pings, deaths } = setup();
    for (let i = 0; i < 20; i++) {
      liveness.sent();
      await clock.advance(1_000);
      liveness.received();
    }
    expect(pings).toEqual([]);
    await clock.advance(2_000);
    liveness.sent();
    expect(pings).toHaveLength(1);
    await clock.advance(2_999);
    liveness.received(); // the pong, just in time
    await clock.advance(10_000);
    expect(deaths).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('check(): pings now even on a busy link; concurrent callers share one ping; true on an answer', async () => {
    const { clock, liveness, pings } = setup();
    const checks = [liveness.check(), liveness.check()];
    expect(pings).toEqual([0]);
    await clock.advance(100);
    liveness.received();
    await expect(Promise.all(checks)).resolves.toEqual([true, true]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('check(): false and dead when nothing answers; an aborted caller rejects ERR_ABORTED without ending the ping', async () => {
    const { clock, liveness, pings, deaths } = setup();
    const ac = new AbortController();
    const aborted = liveness.check({ signal: ac.signal });
    const waiting = liveness.check();
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    await expect(liveness.check({ signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    await clock.advance(3_000);
    await expect(waiting).resolves.toBe(false);
    expect(pings).toHaveLength(1);
    expect(deaths).toHaveLength(1);
    await expect(liveness.check()).resolves.toBe(false); // stopped: no ping
    expect(pings).toHaveLength(1);
  });

  it('stop(): waiting checks get false, no timer is left, dead is never called; idle before start', async () => {
    const { clock, liveness, pings, deaths } = setup();
    await clock.advance(500);
    liveness.sent(); // arms the probe
    const waiting = liveness.check();
    liveness.stop();
    liveness.stop();
    await expect(waiting).resolves.toBe(false);
    expect(clock.pendingTimers()).toBe(0);
    liveness.sent();
    liveness.received();
    await expect(liveness.check()).resolves.toBe(false);
    await clock.advance(60_000);
    expect(pings).toHaveLength(1);
    expect(deaths).toEqual([]);
  });

  it('start() again measures silence from then', async () => {
    const { clock, liveness, pings } = setup();
    await clock.advance(10_000);
    liveness.stop();
    liveness.start('again');
    liveness.sent();
    expect(pings).toEqual([]);
    await clock.advance(2_000);
    expect(pings).toEqual([12_000]);
  });
});
