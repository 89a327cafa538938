import { describe, expect, it } from 'vitest';
import { FakeClock, hasCode, onceEvent, TypedEmitter, withDeadline } from '../src/index.js';

interface Ev {
  tick: (n: number) => void;
}

describe('onceEvent', () => {
  it('resolves with the first matching emission and removes its listener', async () => {
    const e = new TypedEmitter<Ev>();
    const p = onceEvent(e, 'tick', { filter: (n) => n > 1 });
    e.emit('tick', 1);
    e.emit('tick', 2);
    expect(await p).toEqual([2]);
    expect(e.listenerCount('tick')).toBe(0);
  });

  it('times out on the injected clock and aborts', async () => {
    const clock = new FakeClock();
    const e = new TypedEmitter<Ev>();
    const p = onceEvent(e, 'tick', { timeoutMs: 100, clock });
    const check = expect(p).rejects.toSatisfy((err: unknown) => hasCode(err, 'ERR_TIMEOUT'));
    await clock.advance(100);
    await check;
    const ac = new AbortController();
    const q = onceEvent(e, 'tick', { signal: ac.signal });
    ac.abort();
    await expect(q).rejects.toSatisfy((err: unknown) => hasCode(err, 'ERR_ABORTED'));
    expect(e.listenerCount('tick')).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('withDeadline', () => {
  it('passes results through and cancels its timer', async () => {
    const clock = new FakeClock();
    expect(await withDeadline(1000, async () => 42, { clock })).toBe(42);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('rejects with ERR_TIMEOUT and aborts the inner signal', async () => {
    const clock = new FakeClock();
    let inner: AbortSignal | undefined;
    const p = withDeadline(
      500,
      (signal) => {
        inner = signal;
        return new Promise<never>(() => {});
      },
      { clock, what: 'connect' },
    );
    const check = expect(p).rejects.toThrow(/connect timed out after 500 ms/);
    await clock.advance(500);
    await check;
    expect(inner?.aborted).toBe(true);
  });

  it('follows an outer abort', async () => {
    const ac = new AbortController();
    const p = withDeadline(10_000, () => new Promise<never>(() => {}), { signal: ac.signal, clock: new FakeClock() });
    ac.abort();
    await expect(p).rejects.toSatisfy((e: unknown) => hasCode(e, 'ERR_ABORTED'));
  });
});
