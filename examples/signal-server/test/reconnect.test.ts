import { FakeClock, hasCode, onceEvent } from '@mesh/core';
import { describe, expect, it } from 'vitest';
import type { DisconnectCause } from '../src/client.js';
import { SignalErrorCodes } from '../src/errors.js';
import { SignalServer } from '../src/server.js';
import { collect, DEADLINE, keyPair, onCleanup, rawRegister, startClient, startServer } from './helpers.js';
import { MaliciousServer } from './malicious-server.js';

const MSG = { type: 'candidate', version: 1, sessionId: '0123456789', candidate: { n: 1 } } as const;
type Reconnecting = { attempt: number; delayMs: number; cause: DisconnectCause };

/** A loopback port with nothing listening on it (bound then released). */
async function deadPort(): Promise<number> {
  const s = new SignalServer({ host: '127.0.0.1', port: 0 });
  await s.start();
  const { port } = s.address;
  await s.stop();
  return port;
}

describe('reconnect ladder (fake clock)', () => {
  it('retries forever on a jittered doubling ladder capped at maxMs, and stops cleanly', async () => {
    const clock = new FakeClock();
    const reconnect = { initialMs: 1_000, maxMs: 8_000, jitter: 0.25 };
    const client = await startClient(`ws://127.0.0.1:${await deadPort()}`, { clock, reconnect, connect: false });
    const bases = [1_000, 2_000, 4_000, 8_000, 8_000, 8_000];
    // Attempt 1 fails on its own (ECONNREFUSED); each later one starts only when the clock says so.
    let [r] = await onceEvent<[Reconnecting]>(client, 'reconnecting', DEADLINE);
    for (const [i, base] of bases.entries()) {
      expect(r.attempt).toBe(i + 1);
      expect(r.cause).toBe('connection-lost');
      expect(r.delayMs).toBeGreaterThanOrEqual(base * 0.75);
      expect(r.delayMs).toBeLessThanOrEqual(base * 1.25);
      expect(clock.pendingTimers()).toBe(1); // only the retry timer: nothing else is scheduled
      await clock.advance(r.delayMs - 1);
      expect(clock.pendingTimers()).toBe(1); // not yet
      const next = onceEvent<[Reconnecting]>(client, 'reconnecting', DEADLINE);
      await clock.advance(1);
      [r] = await next;
    }
    await client.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a connection cut right after registering does not reset the ladder; one that stayed up does', async () => {
    const server = await startServer();
    const clock = new FakeClock();
    const me = keyPair();
    const reconnect = { initialMs: 1_000, maxMs: 4_000, jitter: 0 };
    const client = await startClient(server.url, { clock, reconnect, privateKey: me.privateKey, heartbeatMs: 1e9 });
    /** A duplicate registration of our key: the server closes our connection as replaced. */
    const duel = async () => {
      const gone = onceEvent<[Reconnecting]>(client, 'reconnecting', DEADLINE);
      await rawRegister(server.url, me.privateKey);
      const [r] = await gone;
      expect(r.cause).toBe('replaced');
      const back = onceEvent(client, 'connected', DEADLINE);
      await clock.advance(r.delayMs);
      await back;
      return r.delayMs;
    };
    expect([await duel(), await duel(), await duel()]).toEqual([1_000, 2_000, 4_000]);
    await clock.advance(4_000); // stable for maxMs
    expect(await duel()).toBe(1_000);
  });
});

describe('reconnect against a real server restart', () => {
  it('disconnects, rejects sends with a typed error, reconnects within the backoff bound and delivers again', async () => {
    const first = new SignalServer({ host: '127.0.0.1', port: 0 });
    onCleanup(() => first.stop());
    await first.start();
    const { port } = first.address;
    const reconnect = { initialMs: 50, maxMs: 400, jitter: 0.2 };
    const a = await startClient(first.url, { reconnect });
    const b = await startClient(first.url, { reconnect });
    const down = [a, b].map((c) => onceEvent<[{ cause: DisconnectCause }]>(c, 'disconnected', DEADLINE));
    await first.stop();
    for (const d of down) expect((await d)[0].cause).toBe('shutdown');
    expect(a.connected).toBe(false);
    const err = await a.send(b.publicKey, MSG).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(hasCode(err, SignalErrorCodes.NOT_CONNECTED)).toBe(true);
    // Let both fail at least one attempt against the dead port.
    await Promise.all([a, b].map((c) => onceEvent(c, 'reconnecting', DEADLINE)));

    const second = new SignalServer({ host: '127.0.0.1', port });
    onCleanup(() => second.stop());
    const up = [a, b].map((c) => onceEvent(c, 'connected', DEADLINE));
    const t0 = performance.now();
    await second.start();
    await Promise.all(up);
    const took = performance.now() - t0;
    // One pending retry delay at most (≤ maxMs × (1 + jitter)) plus connect time.
    expect(took).toBeLessThan(400 * 1.2 + 500);

    const atB = collect(b, 1);
    const atA = collect(a, 1);
    await a.send(b.publicKey, MSG);
    await b.send(a.publicKey, MSG);
    expect((await atB)[0]![0].equals(a.publicKey)).toBe(true);
    expect((await atA)[0]![0].equals(b.publicKey)).toBe(true);
    expect(a.stats()).toMatchObject({ connects: 2, disconnects: 1 });
  });

  it('a server that stops answering pings (half-open) is detected by the heartbeat and left', async () => {
    const mute = await MaliciousServer.start({ autoPong: false });
    const a = await startClient(mute.url, { heartbeatMs: 100, reconnect: { initialMs: 5_000, maxMs: 5_000 } });
    const t0 = performance.now();
    const [d] = await onceEvent<[{ cause: DisconnectCause }]>(a, 'disconnected', DEADLINE);
    expect(d.cause).toBe('heartbeat-timeout');
    // The first ping goes out at 100 ms, its absence is noticed at the next tick.
    expect(performance.now() - t0).toBeLessThan(1_000);
  });
});
