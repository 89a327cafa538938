import { FakeClock } from '@mesh/core';
import { describe, expect, it } from 'vitest';
import { RequestQueue } from '../src/request-queue.js';

/** A request the test answers by hand (or by a FakeClock timer); it gives up when its signal aborts, as a socket would. */
function pending<T>() {
  let resolve!: (v: T) => void;
  const started: AbortSignal[] = [];
  const fn = (signal: AbortSignal) => {
    started.push(signal);
    return new Promise<T>((res, rej) => {
      resolve = res;
      signal.addEventListener('abort', () => rej(signal.reason), { once: true });
    });
  };
  return { fn, started, answer: (v: T) => resolve(v) };
}

describe('RequestQueue (fake clock)', () => {
  it('times each request from when it is sent: waiting behind slow requests is never a timeout', async () => {
    const clock = new FakeClock();
    const q = new RequestQueue(clock, 1000, 'test request');
    const reqs = Array.from({ length: 5 }, () => pending<number>());
    const results = reqs.map((r, i) => q.run(r.fn).then(() => i));
    for (const r of reqs) {
      await clock.advance(900); // each answered just inside its own deadline: 4.5 s in all
      r.answer(0);
    }
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3, 4]);
    expect(q.stats).toMatchObject({ requests: 5, timeouts: 0, maxWaitMs: 3600, maxQueued: 4 });
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a reply that lands when the deadline falls due wins (the deadline waits one timer turn)', async () => {
    const clock = new FakeClock();
    const q = new RequestQueue(clock, 1000, 'test request');
    const req = pending<string>();
    const result = q.run(req.fn);
    // The reply is handled in the same turn as the deadline, after it (as after a blocked event loop).
    clock.setTimeout(() => req.answer('late but there'), 1000);
    await clock.advance(1000);
    expect(await result).toBe('late but there');
    expect(q.stats.timeouts).toBe(0);
  });

  it('when the device does not answer, the request on the wire is cancelled and the queue behind it fails with it', async () => {
    const clock = new FakeClock();
    const q = new RequestQueue(clock, 1000, 'test request');
    const hung = pending<void>();
    const queued = pending<void>();
    const a = q.run(hung.fn).catch((e: unknown) => e);
    const b = q.runShared('get', queued.fn).catch((e: unknown) => e);
    await clock.advance(1000);
    expect(await a).toMatchObject({ code: 'ERR_TIMEOUT' });
    expect(await b).toMatchObject({ code: 'ERR_TIMEOUT' });
    expect(hung.started[0]!.aborted).toBe(true);
    expect(queued.started).toEqual([]); // never sent
    // The next request runs normally.
    const next = pending<number>();
    const c = q.run(next.fn);
    next.answer(3);
    expect(await c).toBe(3);
    expect(q.stats).toMatchObject({ requests: 2, timeouts: 2 });
  });

  it('reads join the waiting read, not one on the wire and not one queued before a write', async () => {
    const clock = new FakeClock();
    const q = new RequestQueue(clock, 1000, 'test request');
    const r1 = pending<string>();
    const r2 = pending<string>();
    const w = pending<void>();
    const r3 = pending<string>();
    const unused = pending<string>();
    const a = q.runShared('get', r1.fn); // sent at once
    const b = q.runShared('get', r2.fn); // waits
    const bJoin = q.runShared('get', unused.fn);
    const write = q.run(w.fn);
    const c = q.runShared('get', r3.fn); // after the write: its own request
    const cJoin = q.runShared('get', unused.fn);
    for (const [req, value] of [
      [r1, 'r1'],
      [r2, 'r2'],
    ] as const) {
      req.answer(value);
      await clock.advance(0); // lets the queue send the next request
    }
    w.answer();
    await clock.advance(0);
    r3.answer('r3');
    expect(await Promise.all([a, b, bJoin, c, cJoin])).toEqual(['r1', 'r2', 'r2', 'r3', 'r3']);
    await write;
    expect(unused.started).toEqual([]);
    expect(q.stats).toMatchObject({ requests: 4, joinedReads: 2 });
  });

  it('a caller leaving a shared read does not cancel it for the others; a write caller aborting cancels its request', async () => {
    const clock = new FakeClock();
    const q = new RequestQueue(clock, 1000, 'test request');
    const first = pending<void>();
    const read = pending<string>();
    const ac = new AbortController();
    const ahead = q.run(first.fn); // keeps the read waiting, so the second caller joins it
    const leaver = q.runShared('get', read.fn, { signal: ac.signal });
    const stayer = q.runShared('get', read.fn);
    ac.abort();
    await expect(leaver).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    first.answer();
    await ahead;
    await clock.advance(0);
    expect(read.started).toHaveLength(1);
    expect(read.started[0]!.aborted).toBe(false);
    read.answer('ok');
    expect(await stayer).toBe('ok');

    const write = pending<void>();
    const wc = new AbortController();
    const w = q.run(write.fn, { signal: wc.signal });
    await clock.advance(0);
    expect(write.started).toHaveLength(1); // on the wire
    wc.abort();
    await expect(w).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expect(write.started[0]!.aborted).toBe(true);
    const after = pending<number>();
    const next = q.run(after.fn);
    await clock.advance(0);
    after.answer(1);
    expect(await next).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('batchable writes waiting next to each other go as one request; a read or a plain write ends the batch', async () => {
    const clock = new FakeClock();
    const sent: string[][] = [];
    const q = new RequestQueue<string>(clock, 1000, 'test request', {
      max: 3,
      run: async (parts) => {
        sent.push(parts);
      },
      retrySingly: () => false,
    });
    const single = (name: string) => async () => {
      sent.push([name]);
    };
    const blocker = pending<void>();
    const ops: Promise<unknown>[] = [q.run(blocker.fn)]; // on the wire while the rest queue up
    for (const p of ['a', 'b', 'c', 'd']) ops.push(q.runBatched(p, single(p)));
    ops.push(q.runShared('get', async () => sent.push(['read'])));
    ops.push(q.runBatched('e', single('e')));
    ops.push(q.runBatched('f', single('f')));
    ops.push(q.run(single('plain')));
    ops.push(q.runBatched('g', single('g')));
    blocker.answer();
    await Promise.all(ops);
    expect(sent).toEqual([['a', 'b', 'c'], ['d'], ['read'], ['e', 'f'], ['plain'], ['g']]);
    expect(q.stats).toMatchObject({ requests: 7, batchedWrites: 3 });
  });

  it('a refused batch is retried one write at a time, so each caller gets its own outcome', async () => {
    const clock = new FakeClock();
    const sent: string[][] = [];
    const refuse = (parts: string[]) => {
      sent.push(parts);
      if (parts.includes('bad')) throw new Error(`refused ${parts.join(',')}`);
    };
    let openGate!: () => void;
    const gate = new Promise<void>((r) => {
      openGate = r;
    });
    const q = new RequestQueue<string>(clock, 1000, 'test request', {
      max: 10,
      run: async (parts) => {
        await gate; // the batch stays on the wire until the test opens the gate
        refuse(parts);
      },
      retrySingly: (err) => err.message.startsWith('refused'),
    });
    const blocker = pending<void>();
    const first = q.run(blocker.fn);
    const ac = new AbortController();
    const results = ['x', 'bad', 'y', 'z'].map((p) =>
      q
        .runBatched(p, async () => refuse([p]), p === 'z' ? { signal: ac.signal } : {})
        .then(
          () => 'ok',
          (e: Error) => e.message,
        ),
    );
    blocker.answer();
    await first;
    await clock.advance(0);
    ac.abort(); // z's caller leaves while the batch is on the wire: the batch goes on, z is not sent again
    openGate();
    expect(await Promise.all(results)).toEqual(['ok', 'refused bad', 'ok', 'This operation was aborted']);
    expect(sent).toEqual([['x', 'bad', 'y', 'z'], ['x'], ['bad'], ['y']]);
  });
});
