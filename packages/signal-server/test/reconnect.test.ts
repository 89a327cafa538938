import { FakeClock, hasCode, onceEvent } from '@mesh/core';
import { type DisconnectCause, type SignalClient, SignalErrorCodes } from '@mesh/signal-client';
import { describe, expect, it } from 'vitest';
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
    let [r] = await onceEvent(client, 'reconnecting', DEADLINE);
    for (const [i, base] of bases.entries()) {
      expect(r.attempt).toBe(i + 1);
      expect(r.cause).toBe('connection-lost');
      expect(r.delayMs).toBeGreaterThanOrEqual(base * 0.75);
      expect(r.delayMs).toBeLessThanOrEqual(base * 1.25);
      expect(clock.pendingTimers()).toBe(1); // only the retry timer: nothing else is scheduled
      await clock.advance(r.delayMs - 1);
      expect(clock.pendingTimers()).toBe(1); // not yet
      const next = onceEvent(client, 'reconnecting', DEADLINE);
      await clock.advance(1);
      [r] = await next;
    }
    await client.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a connection the server closes right after registering (replaced) does not reset the ladder; one that stayed up does', async () => {
    const server = await startServer();
    const clock = new FakeClock();
    const me = keyPair();
    const reconnect = { initialMs: 1_000, maxMs: 4_000, jitter: 0 };
    const client = await startClient(server.url, { clock, reconnect, privateKey: me.privateKey, heartbeatMs: 1e9 });
    /** A duplicate registration of our key: the server closes our connection as replaced. */
    const duel = async () => {
      const gone = onceEvent(client, 'reconnecting', DEADLINE);
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

describe('ladder after network drops (fake clock)', () => {
  const reconnect = { initialMs: 1_000, maxMs: 8_000, jitter: 0 };

  /** Runs `action`, then returns the `reconnecting` event it caused. */
  async function reconnectingAfter(client: SignalClient, action: () => unknown): Promise<Reconnecting> {
    const next = onceEvent(client, 'reconnecting', DEADLINE);
    await action();
    return (await next)[0];
  }

  /**
   * Against a server that ends every connection right after registering (`client` just started): lets
   * each retry fire at once and returns the delays the client chose, until `enough` says so (at most
   * 700 cycles). Every disconnect must have `cause`.
   */
  async function retryDelays(
    client: SignalClient,
    clock: FakeClock,
    cause: DisconnectCause,
    enough: (delays: number[]) => boolean,
  ): Promise<number[]> {
    const delays: number[] = [];
    let r = await reconnectingAfter(client, () => undefined); // the first cycle began in startClient
    for (let i = 0; i < 700 && !enough(delays); i++) {
      expect(r.cause).toBe(cause);
      delays.push(r.delayMs);
      r = await reconnectingAfter(client, () => clock.advance(r.delayMs));
    }
    return delays;
  }

  /** Lets the pending retry fire and waits for the registration. */
  async function reconnected(client: SignalClient, clock: FakeClock, r: Reconnecting): Promise<void> {
    const back = onceEvent(client, 'connected', DEADLINE);
    await clock.advance(r.delayMs);
    await back;
  }

  it('reconnects promptly after each of back-to-back network drops, even after the ladder grew', async () => {
    const clock = new FakeClock();
    let server = await MaliciousServer.start();
    const port = Number(new URL(server.url).port);
    const client = await startClient(server.url, { clock, reconnect, heartbeatMs: 1e9 });

    // Event 1: the network goes away for a while (the server vanishes without a close frame), so
    // the attempts during the outage climb the ladder: 1 s, 2 s, then 4 s until it is back.
    let r = await reconnectingAfter(client, () => server.close());
    expect(r).toMatchObject({ cause: 'connection-lost', delayMs: 1_000 });
    for (const delayMs of [2_000, 4_000]) {
      r = await reconnectingAfter(client, () => clock.advance(r.delayMs));
      expect(r.delayMs).toBe(delayMs);
    }
    server = await MaliciousServer.start({ port });
    await reconnected(client, clock, r);

    // Events 2 and 3, well inside maxMs of each other (a PPPoE re-dial rotates the IP twice):
    // each reconnects after the first rung, not after the grown ladder (8 s before this rule).
    for (const sinceLast of [5_000, 0]) {
      await clock.advance(sinceLast);
      r = await reconnectingAfter(client, () => server.cut());
      expect(r).toMatchObject({ cause: 'connection-lost', attempt: 1, delayMs: 1_000 });
      await reconnected(client, clock, r);
    }
    expect(client.stats()).toMatchObject({ connects: 4, disconnects: 3 });
  });

  it('a server that closes every connection right after registering meets the growing ladder', async () => {
    const clock = new FakeClock();
    const server = await MaliciousServer.start({ afterRegister: 'close' });
    const client = await startClient(server.url, { clock, reconnect, heartbeatMs: 1e9, connect: false });
    const delays = await retryDelays(client, clock, 'server-closed', (d) => d.length === 6);
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  });

  it('a server that cuts every connection right after registering gets 3 prompt reconnects, then about one a minute', async () => {
    const clock = new FakeClock();
    const server = await MaliciousServer.start({ afterRegister: 'cut' });
    const client = await startClient(server.url, { clock, reconnect, heartbeatMs: 1e9, connect: false });
    // Ten simulated minutes of accept-then-cut.
    const delays = await retryDelays(client, clock, 'connection-lost', () => clock.monotonic() >= 600_000);
    expect(clock.monotonic()).toBeGreaterThanOrEqual(600_000);
    // The burst, then the ladder climbs to the cap as without the rule...
    expect(delays.slice(0, 8)).toEqual([1_000, 1_000, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    // ...and a prompt reconnect comes back only as a token refills (one a minute), never a loop.
    const prompt = delays.filter((d) => d === reconnect.initialMs).length;
    expect(prompt).toBeGreaterThanOrEqual(3 + 8);
    expect(prompt).toBeLessThanOrEqual(3 + 10);
    // Attempts over 10 min: a ladder restarted once a minute, about 1.3× the cap's rate (75), not hundreds.
    expect(delays.length).toBeLessThanOrEqual(110);
    await client.stop();
    expect(clock.pendingTimers()).toBe(0);
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
    const down = [a, b].map((c) => onceEvent(c, 'disconnected', DEADLINE));
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
    const [d] = await onceEvent(a, 'disconnected', DEADLINE);
    expect(d.cause).toBe('heartbeat-timeout');
    // The first ping goes out at 100 ms, its absence is noticed at the next tick.
    expect(performance.now() - t0).toBeLessThan(1_000);
  });
});
