import { FakeClock, onceEvent } from '@mesh/core';
import { describe, expect, it } from 'vitest';
import type { DisconnectCause } from '../src/options.js';
import { DEADLINE, FakeServer, keyPair, startClient } from './helpers.js';

const MSG = { type: 'offer', version: 1 };
const PEER = keyPair().publicKey;
type Reconnecting = { attempt: number; delayMs: number; cause: DisconnectCause };

describe('liveness: a black-holed link (fake clock)', () => {
  it('is left within idle + pong timeout (5 s) of a send into it, as ping-timeout, and reconnects at once', async () => {
    const clock = new FakeClock();
    const server = await FakeServer.start();
    const reconnect = { initialMs: 1_000, maxMs: 8_000, jitter: 0 };
    const { client, logs } = await startClient(server.url, { clock, reconnect });
    // The worst case: the send comes soon after the last frame arrived, before the link looks idle.
    await clock.advance(500);
    server.blackHole();
    await client.send(PEER, MSG);
    const sentAt = clock.monotonic();
    const lost = onceEvent(client, 'disconnected', DEADLINE);
    const reconnecting = onceEvent(client, 'reconnecting', DEADLINE);
    await clock.advance(4_499);
    expect(client.connected).toBe(true);
    await clock.advance(1);
    expect((await lost)[0].cause).toBe('ping-timeout');
    expect(clock.monotonic() - sentAt).toBeLessThanOrEqual(5_000); // the heartbeat alone would take 15–30 s
    expect(client.connected).toBe(false);
    const [r] = await reconnecting;
    expect(r).toMatchObject({ cause: 'ping-timeout', attempt: 1, delayMs: 1_000 });
    // A network drop like heartbeat-timeout: the ladder restarts (a prompt-reset token is taken).
    expect(logs.find((l) => l.event === 'signal-reconnecting')).toMatchObject({ ladderReset: 'network-drop' });
    const back = onceEvent(client, 'connected', DEADLINE);
    await clock.advance(1_000);
    await back;
    expect(client.stats()).toMatchObject({ connects: 2, disconnects: 1, sent: 1 });
  });

  it('a link that answers is never dropped by sends into silence; a check joins the ping a send started', async () => {
    const clock = new FakeClock();
    const server = await FakeServer.start();
    const { client } = await startClient(server.url, { clock, liveness: { idleMs: 1_000, pongTimeoutMs: 500 } });
    let drops = 0;
    client.on('disconnected', () => drops++);
    for (let i = 0; i < 5; i++) {
      await clock.advance(1_000);
      await client.send(PEER, MSG);
      expect(await client.check()).toBe(true); // joins the ping the send started, answered for real
    }
    await clock.advance(5_000); // no pong deadline left behind (the heartbeat is due at 15 s)
    expect(client.connected).toBe(true);
    expect(drops).toBe(0);
    expect(server.pings).toBe(5);
  });

  it('liveness bounds must be positive numbers: ERR_INVALID_ARGUMENT at construction', async () => {
    for (const liveness of [{ idleMs: 0 }, { pongTimeoutMs: -1 }, { idleMs: Number.NaN }]) {
      await expect(startClient('ws://127.0.0.1:9', { liveness, connect: false })).rejects.toMatchObject({
        code: 'ERR_INVALID_ARGUMENT',
        message: expect.stringContaining('liveness.'),
      });
    }
  });
});

describe('check()', () => {
  it('true on a healthy link; false on a dead one, which is dropped (ping-timeout) and reconnected', async () => {
    const clock = new FakeClock();
    const server = await FakeServer.start();
    const reconnect = { initialMs: 1_000, maxMs: 8_000, jitter: 0 };
    const { client } = await startClient(server.url, { clock, reconnect });
    await expect(client.check()).resolves.toBe(true);
    expect(server.pings).toBe(1);
    expect(clock.pendingTimers()).toBe(1); // the heartbeat only: no pong deadline left behind

    server.blackHole();
    const lost = onceEvent(client, 'disconnected', DEADLINE);
    const checks = [client.check(), client.check()];
    const ac = new AbortController();
    const aborted = client.check({ signal: ac.signal });
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    await clock.advance(2_999);
    expect(client.connected).toBe(true);
    await clock.advance(1);
    await expect(Promise.all(checks)).resolves.toEqual([false, false]);
    expect(client.connected).toBe(false); // already dropped when check() says so
    expect((await lost)[0].cause).toBe('ping-timeout');
    await expect(client.check()).resolves.toBe(false); // not connected: at once, no ping
    await expect(client.check({ signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED' });

    const back = onceEvent(client, 'connected', DEADLINE);
    await clock.advance(1_000);
    await back;
    await expect(client.check()).resolves.toBe(true);
  });
});

describe('reconnectNow()', () => {
  const reconnect = { initialMs: 60_000, maxMs: 600_000, jitter: 0 };

  it('during a long backoff wait connects at once; when connected it does nothing', async () => {
    const clock = new FakeClock();
    const port = await FakeServer.freePort();
    const { client } = await startClient(`ws://127.0.0.1:${port}`, { clock, reconnect, connect: false });
    const [r] = await onceEvent(client, 'reconnecting', DEADLINE); // nothing listens yet
    expect(r.delayMs).toBe(60_000);
    const server = await FakeServer.start({ port }); // the network is back
    const up = onceEvent(client, 'connected', DEADLINE);
    client.reconnectNow('network-changed');
    await up;
    expect(clock.monotonic()).toBe(0);
    client.reconnectNow('network-changed');
    await expect(client.check()).resolves.toBe(true); // a round trip on the same link
    expect(server.connections).toBe(1);
    expect(client.stats().connects).toBe(1);
  });

  it('restarts the ladder; a storm of calls is bounded by the prompt-reset bucket (3, then one a minute)', async () => {
    const clock = new FakeClock();
    const server = await FakeServer.start({ cutOnOpen: true }); // every attempt fails at once
    const { client, logs } = await startClient(server.url, { clock, reconnect, connect: false });
    const seen: Reconnecting[] = [];
    client.on('reconnecting', (r) => seen.push(r));
    const next = () => onceEvent(client, 'reconnecting', DEADLINE).then(([r]) => r);
    expect(await next()).toMatchObject({ attempt: 1, delayMs: 60_000 });
    const grown = next();
    await clock.advance(60_000);
    expect(await grown).toMatchObject({ attempt: 2, delayMs: 120_000 });

    for (let i = 0; i < 3; i++) {
      const failed = next();
      client.reconnectNow('flap');
      client.reconnectNow('flap'); // an attempt is under way: nothing more
      expect(await failed).toMatchObject({ attempt: 1, delayMs: 60_000 }); // the ladder restarted
    }
    expect(server.connections).toBe(2 + 3);

    // The bucket is dry: the storm keeps the schedule.
    for (let i = 0; i < 50; i++) client.reconnectNow('flap');
    expect(clock.pendingTimers()).toBe(1); // the retry, unchanged
    const scheduled = next();
    await clock.advance(60_000);
    expect(await scheduled).toMatchObject({ attempt: 2, delayMs: 120_000 });
    expect(server.connections).toBe(6);
    expect(seen).toHaveLength(6);
    expect(logs.filter((l) => l.event === 'signal-reconnect-now')).toHaveLength(3);

    // A minute on, one token is back: one more prompt attempt, then dry again.
    const prompt = next();
    client.reconnectNow('flap');
    expect(await prompt).toMatchObject({ attempt: 1, delayMs: 60_000 });
    client.reconnectNow('flap');
    expect(server.connections).toBe(7);
    expect(clock.pendingTimers()).toBe(1);
  });
});

describe('reconnect() and localAddress', () => {
  it("knows its socket's local address; reconnect() drops a live link at once (network-change) and comes back", async () => {
    const clock = new FakeClock();
    const server = await FakeServer.start();
    const { client, logs } = await startClient(server.url, {
      clock,
      reconnect: { initialMs: 1_000, maxMs: 8_000, jitter: 0 },
    });
    expect(client.localAddress).toBe('127.0.0.1');
    const lost = onceEvent(client, 'disconnected', DEADLINE);
    client.reconnect('local address gone');
    expect(client.connected).toBe(false);
    expect(client.localAddress).toBeUndefined();
    expect((await lost)[0].cause).toBe('network-change');
    expect(logs.find((l) => l.event === 'signal-reconnecting')).toMatchObject({ ladderReset: 'network-drop' });
    expect(logs.find((l) => l.event === 'signal-reconnecting')).toMatchObject({ delayMs: 0 });
    const back = onceEvent(client, 'connected', DEADLINE);
    await clock.advance(0);
    await back;
    expect(client.localAddress).toBe('127.0.0.1');
    expect(client.stats()).toMatchObject({ connects: 2, disconnects: 1 });
  });
});

describe('after stop()', () => {
  it('is quiet: a waiting check() gets false, reconnectNow() and check() do nothing, no timer is left', async () => {
    const clock = new FakeClock();
    const server = await FakeServer.start();
    const { client, logs } = await startClient(server.url, { clock });
    await clock.advance(2_000);
    server.blackHole();
    await client.send(PEER, MSG); // a ping in flight, never answered
    const waiting = client.check();
    const stopped = client.stop();
    await expect(waiting).resolves.toBe(false);
    await clock.advance(1_000); // the graceful close gets no answer from a black hole: cut
    await stopped;
    const logged = logs.length;
    client.reconnectNow('network-changed');
    await expect(client.check()).resolves.toBe(false);
    await clock.advance(60_000);
    expect(clock.pendingTimers()).toBe(0);
    expect(logs.slice(logged)).toEqual([]);
    expect(server.connections).toBe(1);
  });
});
