import { afterEach, describe, expect, it } from 'vitest';
import { makePair, type Pair, type PairOptions } from './harness.js';

let pair: Pair | undefined;
afterEach(async () => {
  await pair?.teardown();
  pair = undefined;
});

const RELAY_ONLY: PairOptions = { b: { ice: false } };
/** Relay only, no probes: only the WireGuard handshake watcher can see a dead path. */
const RELAY_WATCHER_ONLY: PairOptions = {
  a: { probes: false },
  b: { ice: false, probes: false },
  watcher: { firstHandshakeTimeoutMs: 30_000, staleAfterMs: 45_000, checkIntervalMs: 1_000 },
};

async function upOnRelay(p: Pair): Promise<void> {
  await p.start();
  await p.until(() => p.a.conn.activePath === 'relay' && p.b.conn.activePath === 'relay', 10_000);
  expect(await p.tunnelWorks()).toBe(true);
}

/** 50 offers within one second, 25 from each side, on a healthy tunnel. */
async function offerStorm(p: Pair, n = 25): Promise<void> {
  for (let i = 0; i < n; i++) {
    void p.a.conn.sendOffer();
    void p.b.conn.sendOffer();
    await p.run(40, 20);
  }
  await p.run(2_000);
}

/** Kills A's relay entry for B the way NetBird F-R-1 describes: the client keeps it, nothing flows. */
function stallRelayEntry(p: Pair): void {
  const conn = p.a.relayClient()?.connTo(p.b.key);
  if (!conn) throw new Error('A holds no relay entry for B');
  conn.stalled = true;
}

const teardowns = (p: Pair) => p.a.conn.counters.relayTeardowns + p.b.conn.counters.relayTeardowns;

describe('relay path: the stale flag', () => {
  it('50 offers in 1 s on a healthy relay conn: zero tear-downs, no outage', async () => {
    pair = await makePair(RELAY_ONLY);
    await upOnRelay(pair);
    await offerStorm(pair);
    expect(pair.a.conn.counters.offersReceived + pair.b.conn.counters.offersReceived).toBeGreaterThanOrEqual(50);
    expect(teardowns(pair)).toBe(0);
    expect(pair.a.events.filter((e) => e.type === 'path-changed')).toHaveLength(1);
    expect(await pair.tunnelWorks(1_000)).toBe(true);
  });

  it('ERR_CONN_ALREADY_EXISTS without the flag keeps the healthy conn (no close)', async () => {
    pair = await makePair(RELAY_ONLY);
    await upOnRelay(pair);
    const opens = pair.a.conn.counters.relayOpens;
    await pair.a.conn.sendOffer();
    await pair.run(1_000);
    expect(pair.b.conn.counters.offersReceived).toBeGreaterThan(0);
    expect(pair.a.conn.counters.relayOpens).toBe(opens);
    expect(teardowns(pair)).toBe(0);
  });

  it('handshake timeout on the relay path → stale → next offer → exactly one close and one reopen', async () => {
    pair = await makePair(RELAY_WATCHER_ONLY);
    await upOnRelay(pair);
    stallRelayEntry(pair);
    await pair.until(() => pair!.a.events.some((e) => e.type === 'stale-marked'), 120_000, 200);
    const stale = pair.a.events.find((e) => e.type === 'stale-marked')!;
    expect((stale.info as { reason: string }).reason).toBe('handshake-timeout');
    expect(await pair.tunnelWorks(30_000)).toBe(true);
    expect(pair.a.conn.counters.relayTeardowns).toBe(1);
    expect(pair.a.conn.counters.relayReopens).toBe(1);
    expect(pair.b.conn.counters.relayTeardowns).toBeLessThanOrEqual(1);
    // And it stays repaired: no further tear-downs over the next five minutes.
    const after = teardowns(pair);
    await pair.run(300_000, 500);
    expect(teardowns(pair)).toBe(after);
    expect(await pair.tunnelWorks()).toBe(true);
  });

  it('with probes, a stalled entry is found silent within seconds and replaced', async () => {
    pair = await makePair(RELAY_ONLY);
    await upOnRelay(pair);
    stallRelayEntry(pair);
    const took = await pair.until(() => pair!.a.conn.counters.relayReopens === 1, 30_000, 100);
    expect(took).toBeLessThan(10_000);
    expect(await pair.tunnelWorks()).toBe(true);
    const rec = pair.a.events.find((e) => e.type === 'recovered');
    expect(rec).toBeDefined();
    expect((rec!.info as { outageMs: number }).outageMs).toBeLessThan(10_000);
  });

  it('a relay server connection that dies marks the entry stale and the conn comes back', async () => {
    pair = await makePair(RELAY_ONLY);
    await upOnRelay(pair);
    const server = pair.relayNet.server('rel://relay1.test:443')!;
    server.kill();
    await pair.run(1_000);
    server.restart();
    expect(pair.a.events.some((e) => e.type === 'stale-marked')).toBe(true);
    expect(await pair.tunnelWorks(30_000)).toBe(true);
    expect(pair.a.conn.activePath).toBe('relay');
  });
});

describe('relay path: a long relay outage', () => {
  it('relay back after 10 min: the first side to reconnect tells the other, which need not wait out its ladder', async () => {
    pair = await makePair(RELAY_ONLY);
    await upOnRelay(pair);
    const server = pair.relayNet.server('rel://relay1.test:443')!;
    server.kill();
    await pair.run(600_000, 1_000); // both ladders at their 30 s cap (±50 %)
    server.restart();
    const ready = () => [pair!.a.manager!.ready, pair!.b.manager!.ready].filter(Boolean).length;
    await pair.until(() => ready() >= 1, 120_000, 100);
    const took = await pair.until(() => ready() === 2, 120_000, 50);
    // The hint rides on the first side's offer; without it the other waits for its own attempt.
    expect(took).toBeLessThan(1_000);
    expect(await pair.tunnelWorks(10_000)).toBe(true);
  });
});

describe('relay path: a server that forgot our session', () => {
  it('an entry reopened on a forgotten session that stays silent makes the manager log in again', async () => {
    pair = await makePair(RELAY_ONLY);
    await upOnRelay(pair);
    const causes: string[] = [];
    pair.a.manager!.on('relay-disconnected', (info) => causes.push(info.cause));
    pair.relayNet.server('rel://relay1.test:443')!.forget(pair.a.key);
    expect(await pair.tunnelWorks(30_000)).toBe(true);
    expect(causes).toEqual(['forced:reopened-conn-silent']);
    // And it stays repaired without further churn.
    const after = teardowns(pair);
    await pair.run(120_000, 500);
    expect(teardowns(pair)).toBe(after);
    expect(await pair.tunnelWorks()).toBe(true);
  });
});

describe('negative controls: the suite sees NetBird’s two relay bugs', () => {
  it('"reuse on exists" (NetBird before PR #5866) never recovers from a stale entry', async () => {
    pair = await makePair({ ...RELAY_WATCHER_ONLY, policy: 'reuse' });
    await upOnRelay(pair);
    stallRelayEntry(pair);
    await pair.run(300_000, 500);
    expect(pair.a.events.some((e) => e.type === 'stale-marked')).toBe(true);
    expect(await pair.tunnelWorks(5_000)).toBe(false);
    expect(pair.a.conn.counters.relayReopens).toBe(0);
  });

  it('"always close and reopen" (the naive fix) tears down a healthy conn on every offer', async () => {
    pair = await makePair({ ...RELAY_ONLY, policy: 'always-reopen' });
    await upOnRelay(pair);
    await offerStorm(pair, 5);
    const afterTen = teardowns(pair);
    await offerStorm(pair, 25);
    const afterSixty = teardowns(pair);
    expect(afterTen).toBeGreaterThanOrEqual(5);
    // Tear-downs grow with offers: the loop NetBird measured at 3,608 cycles/hour.
    expect(afterSixty - afterTen).toBeGreaterThanOrEqual(25);
  });
});

describe('ICE path', () => {
  it('ICE dead (handshake timeout) → local session rotated, remote builds a new agent, relay takes over', async () => {
    pair = await makePair({
      a: { probes: false },
      b: { probes: false },
      watcher: { firstHandshakeTimeoutMs: 30_000, staleAfterMs: 45_000, checkIntervalMs: 1_000 },
    });
    const { a, b, start, until, iceNet } = pair;
    await start();
    await until(() => a.conn.activePath === 'ice-direct' && b.conn.activePath === 'ice-direct', 10_000);
    await until(() => a.conn.counters.relayOpens > 0 && b.conn.counters.relayOpens > 0, 10_000);
    const sa = (await a.conn.status()).ice.localSessionId;
    const sb = (await b.conn.status()).ice.localSessionId;
    const agentsBefore = iceNet.agents.length;
    iceNet.setReachable(false);
    await until(() => a.conn.activePath === 'relay' || b.conn.activePath === 'relay', 120_000, 200);
    expect(await pair.tunnelWorks(30_000)).toBe(true);
    const rotatedA = a.events.filter((e) => e.type === 'session-rotated').map((e) => e.info as { cause: string });
    const rotatedB = b.events.filter((e) => e.type === 'session-rotated').map((e) => e.info as { cause: string });
    expect(rotatedA.length + rotatedB.length).toBeGreaterThanOrEqual(2);
    expect((await a.conn.status()).ice.localSessionId).not.toBe(sa);
    expect((await b.conn.status()).ice.localSessionId).not.toBe(sb);
    expect(iceNet.agents.length).toBeGreaterThan(agentsBefore);
    // UDP comes back: ICE is retried on the ladder and takes over again.
    iceNet.setReachable(true);
    await until(() => a.conn.activePath === 'ice-direct' && b.conn.activePath === 'ice-direct', 90_000, 200);
    expect(await pair.tunnelWorks()).toBe(true);
    expect(teardowns(pair)).toBe(0);
  });

  it('ICE path silent (probes) → relay within seconds, new sessions on both sides', async () => {
    pair = await makePair();
    const { a, b, start, until, iceNet } = pair;
    await start();
    await until(() => a.conn.activePath === 'ice-direct' && b.conn.activePath === 'ice-direct', 10_000);
    await until(() => a.conn.counters.relayOpens > 0 && b.conn.counters.relayOpens > 0, 10_000);
    await pair.run(3_000);
    const sa = (await a.conn.status()).ice.localSessionId;
    iceNet.setReachable(false);
    const took = await until(() => a.conn.activePath === 'relay' && b.conn.activePath === 'relay', 30_000, 100);
    expect(took).toBeLessThan(6_000);
    expect(await pair.tunnelWorks(5_000)).toBe(true);
    expect((await a.conn.status()).ice.localSessionId).not.toBe(sa);
    expect(a.events.some((e) => e.type === 'recovered')).toBe(true);
  });
});

describe('path quality', () => {
  it('a TURN pair is upgraded to a direct one once a new session can find it (controller retries)', async () => {
    pair = await makePair();
    const { a, b, start, until, iceNet } = pair;
    iceNet.pairType = 'relay';
    await start();
    await until(() => a.conn.activePath === 'ice-turn' && b.conn.activePath === 'ice-turn', 10_000);
    await until(() => a.conn.counters.relayOpens > 0 && b.conn.counters.relayOpens > 0, 10_000);
    iceNet.pairType = 'host';
    const took = await until(
      () => a.conn.activePath === 'ice-direct' && b.conn.activePath === 'ice-direct',
      60_000,
      100,
    );
    expect(took).toBeLessThan(25_000);
    expect(await pair.tunnelWorks()).toBe(true);
    expect(teardowns(pair)).toBe(0);
  });

  it('on the relay with ICE failing, ICE is retried on the capped ladder, not on every session rotation', async () => {
    pair = await makePair();
    const { a, b, start, until, run, iceNet } = pair;
    iceNet.setReachable(false);
    await start();
    await until(() => a.conn.activePath === 'relay' && b.conn.activePath === 'relay', 10_000);
    await run(60_000, 500);
    const sent = () => a.conn.counters.offersSent + b.conn.counters.offersSent;
    const before = sent();
    await run(10 * 60_000, 1_000);
    // Ladder cap 30–45 s per side: at most ~20 offers each in 10 min (NetBird: hourly; a reset on
    // every remote rotation would be ~40 per side per 10 min with a 15 s connect timeout).
    expect(sent() - before).toBeLessThanOrEqual(2 * 22);
    expect(sent() - before).toBeGreaterThanOrEqual(2 * 10);
    iceNet.setReachable(true);
    await until(() => a.conn.activePath === 'ice-direct' && b.conn.activePath === 'ice-direct', 60_000, 200);
  });

  it('behind NATs where only TURN works, upgrade attempts back off instead of churning', async () => {
    pair = await makePair();
    const { a, start, until, run, iceNet } = pair;
    iceNet.pairType = 'relay';
    await start();
    await until(() => a.conn.activePath === 'ice-turn', 10_000);
    await run(30 * 60_000, 1_000);
    const sessions = a.conn.counters.iceSessions;
    // 15 s, 30 s, 1 min, 2 min, 4 min, 8 min, then every 10 min: about 8 attempts in 30 min.
    expect(sessions).toBeGreaterThanOrEqual(4);
    expect(sessions).toBeLessThanOrEqual(10);
    expect(a.conn.activePath).toBe('ice-turn');
    expect(teardowns(pair)).toBe(0);
  });

  it('a relay blip clears the stale mark: the entry is kept, not replaced', async () => {
    pair = await makePair(RELAY_ONLY);
    await upOnRelay(pair);
    // Signaling is down during the blip, so no offer can act on the stale mark before it clears.
    pair.hub.partition(true);
    const conn = pair.a.relayClient()!.connTo(pair.b.key)!;
    conn.stalled = true;
    await pair.until(() => pair!.a.events.some((e) => e.type === 'stale-marked'), 10_000, 100);
    conn.stalled = false;
    await pair.run(3_000);
    expect((await pair.a.conn.status()).relay.stale).toBe(false);
    pair.hub.partition(false);
    await pair.a.conn.sendOffer();
    await pair.b.conn.sendOffer();
    await pair.run(5_000);
    expect(pair.a.conn.counters.relayReopens + pair.b.conn.counters.relayReopens).toBe(0);
    expect(teardowns(pair)).toBe(0);
    expect(await pair.tunnelWorks()).toBe(true);
  });
});

describe('signaling faults and lifecycle', () => {
  it('signaling back after an outage: the next offer goes out at once, not at the end of the ladder', async () => {
    pair = await makePair();
    const { a, b, start, until, hub } = pair;
    hub.partition(true);
    await start();
    // 60 s of lost offers: the guard's ladder is now seconds long (0.8 s doubling, capped at 30–45 s).
    await pair.run(60_000, 100);
    expect(a.conn.activePath).toBe('none');
    const offers = a.conn.counters.offersSent + b.conn.counters.offersSent;
    hub.partition(false);
    const took = await until(() => a.conn.activePath === 'ice-direct' && b.conn.activePath === 'ice-direct', 30_000);
    // Without the re-offer on `connected` this waits for the next ladder step (several seconds).
    expect(took).toBeLessThan(1_000);
    expect(a.conn.counters.offersSent + b.conn.counters.offersSent - offers).toBeLessThanOrEqual(6);
  });

  it('converges under dropped, duplicated and reordered signaling', async () => {
    pair = await makePair({ seed: 42 });
    pair.hub.faults = { dropRate: 0.3, duplicateRate: 0.3, reorderMs: 400 };
    const { a, b, start, until } = pair;
    await start();
    await until(() => a.conn.activePath === 'ice-direct' && b.conn.activePath === 'ice-direct', 60_000, 100);
    await until(() => a.conn.counters.relayOpens > 0 && b.conn.counters.relayOpens > 0, 60_000, 100);
    expect(await pair.tunnelWorks()).toBe(true);
    expect(pair.hub.stats.dropped + pair.hub.stats.duplicated).toBeGreaterThan(0);
    expect(teardowns(pair)).toBe(0);
  });

  it('nothing happens after stop(): no events, no messages, no timers, WireGuard peer removed', async () => {
    pair = await makePair();
    const { a, b, start, until, run, clock, hub } = pair;
    await start();
    await until(() => a.conn.activePath === 'ice-direct' && b.conn.activePath === 'ice-direct', 10_000);
    await a.conn.stop();
    await a.conn.stop();
    const events = a.events.length;
    expect(await a.wg.getPeer(b.key)).toBeNull();
    await b.conn.stop();
    await Promise.all([a.manager?.stop(), b.manager?.stop()]);
    a.wg.stop();
    b.wg.stop();
    const sent = hub.stats.sent;
    await run(600_000, 1_000);
    expect(a.events.length).toBe(events);
    expect(hub.stats.sent).toBe(sent);
    expect(clock.pendingTimers()).toBe(0);
  });
});
