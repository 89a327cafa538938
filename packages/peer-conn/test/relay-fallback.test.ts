import { afterEach, describe, expect, it } from 'vitest';
import type { SignalMessage } from '../src/index.js';
import { makePair, type Pair, RELAY_URL, RELAY_URL_2, RELAY_URL_3 } from './harness.js';

// F-R-12 / NetBird #4498: A (controller) is homed on RELAY_URL, B (follower) on RELAY_URL_2; they
// meet on A's home, which B dials as a foreign relay. Relay is the only path (no ICE).

let pair: Pair | undefined;
afterEach(async () => {
  await pair?.teardown();
  pair = undefined;
});

const TTL = 120_000;

async function homedApart(
  extra: { rewriteA?: (m: SignalMessage) => SignalMessage; rewriteB?: typeof extra.rewriteA; urlsA?: string[] } = {},
) {
  pair = await makePair({
    a: { ice: false, relayUrls: extra.urlsA ?? [RELAY_URL], ...(extra.rewriteA ? { rewrite: extra.rewriteA } : {}) },
    b: { ice: false, relayUrls: [RELAY_URL_2], ...(extra.rewriteB ? { rewrite: extra.rewriteB } : {}) },
    relayUnreachableTtlMs: TTL,
  });
  const p = pair;
  await p.start();
  await p.until(() => p.a.conn.activePath === 'relay' && p.b.conn.activePath === 'relay', 10_000);
  expect((await p.a.conn.status()).relay.server).toBe(RELAY_URL);
  expect((await p.b.conn.status()).relay.server).toBe(RELAY_URL);
  return p;
}

const offers = (p: Pair) => p.a.conn.counters.offersSent + p.b.conn.counters.offersSent;
const teardowns = (p: Pair) => p.a.conn.counters.relayTeardowns + p.b.conn.counters.relayTeardowns;

/** Runs until both sides carry traffic on the relay at `server`; returns fake ms taken. */
async function untilBothOn(p: Pair, server: string, ms: number): Promise<number> {
  let sa = await p.a.conn.status();
  let sb = await p.b.conn.status();
  const t0 = p.clock.monotonic();
  while (
    !(sa.relay.server === server && sb.relay.server === server && sa.active === 'relay' && sb.active === 'relay')
  ) {
    if (p.clock.monotonic() - t0 >= ms) throw new Error(`not both on ${server} within ${ms} fake ms`);
    await p.run(100);
    sa = await p.a.conn.status();
    sb = await p.b.conn.status();
  }
  expect(await p.tunnelWorks()).toBe(true);
  return p.clock.monotonic() - t0;
}

describe("PeerConn: the controller's home relay is unreachable from the follower (F-R-12)", () => {
  it("both sides move to the follower's home relay, agree on it, and stay there", async () => {
    const p = await homedApart();
    const offers0 = offers(p);
    p.block(p.b, RELAY_URL);
    const took = await untilBothOn(p, RELAY_URL_2, 20_000);
    expect(took).toBeLessThan(10_000);
    expect((await p.b.conn.status()).relay.unreachable).toBe(RELAY_URL);
    expect((await p.a.conn.status()).relay.unreachable).toBeUndefined();
    expect(p.relayNet.server(RELAY_URL_2)!.isOnline(p.a.key)).toBe(true); // A dialled B's home as a foreign relay
    // The controller closed its entry on its home once; nothing flaps afterwards.
    expect(p.a.conn.counters.relayTeardowns).toBe(1);
    expect(offers(p) - offers0).toBeLessThanOrEqual(12);
    const settled = { offers: offers(p), teardowns: teardowns(p) };
    await p.run(TTL - 20_000, 200);
    expect(offers(p)).toBe(settled.offers);
    expect(teardowns(p)).toBe(settled.teardowns);
    expect((await p.a.conn.status()).relay.server).toBe(RELAY_URL_2);
    expect((await p.b.conn.status()).relay.server).toBe(RELAY_URL_2);
  });

  it("the controller's home relay dies: both meet on the follower's home, and return when it is back", async () => {
    const p = await homedApart();
    const server = p.relayNet.server(RELAY_URL)!;
    server.kill();
    const took = await untilBothOn(p, RELAY_URL_2, 20_000);
    expect(took).toBeLessThan(5_000);
    expect(p.relayNet.server(RELAY_URL_2)!.isOnline(p.a.key)).toBe(true); // A dialled B's home as a foreign relay
    const settled = { offers: offers(p), teardowns: teardowns(p) };
    await p.run(120_000, 500); // A's home stays down: no flapping meanwhile
    expect(offers(p) - settled.offers).toBeLessThanOrEqual(2);
    expect(teardowns(p)).toBe(settled.teardowns);
    server.restart();
    await untilBothOn(p, RELAY_URL, 120_000);
    const back = { offers: offers(p), teardowns: teardowns(p) };
    await p.run(60_000, 500);
    expect(offers(p)).toBe(back.offers);
    expect(teardowns(p)).toBe(back.teardowns);
    expect(teardowns(p)).toBeLessThanOrEqual(6);
  });

  it('converges on one server while signaling duplicates and reorders offers and answers', async () => {
    const p = await homedApart();
    p.hub.faults = { duplicateRate: 0.3, reorderMs: 300 };
    p.block(p.b, RELAY_URL);
    await untilBothOn(p, RELAY_URL_2, 30_000);
    await p.run(5_000);
    const settled = { offers: offers(p), teardowns: teardowns(p) };
    await p.run(60_000, 200);
    expect(offers(p)).toBe(settled.offers);
    expect(teardowns(p)).toBe(settled.teardowns);
    expect(p.a.conn.counters.relayTeardowns).toBeLessThanOrEqual(2);
  });

  it('an open still waiting on the old server is abandoned when the meeting server moves', async () => {
    const p = await homedApart();
    const bClient = p.relayNet
      .clientsFor(RELAY_URL)
      .find((c) => c.localKey.equals(p.b.key) && c.state === 'connected')!;
    p.block(p.b, RELAY_URL);
    // The server notices at once: A's entry closes (peer-offline), and A's next open on its home
    // waits for B to come back online there — which never happens (fake open timeout: 5 s).
    p.relayNet.server(RELAY_URL)!._unregister(bClient);
    const took = await untilBothOn(p, RELAY_URL_2, 20_000);
    expect(took).toBeLessThan(2_000);
  });

  it("the controller's home moves: the follower drops its mark and both meet on the new home", async () => {
    const p = await homedApart({ urlsA: [RELAY_URL, RELAY_URL_3] });
    p.block(p.b, RELAY_URL);
    await untilBothOn(p, RELAY_URL_2, 20_000);
    p.relayNet.server(RELAY_URL)!.kill();
    await untilBothOn(p, RELAY_URL_3, 60_000);
    expect((await p.b.conn.status()).relay.unreachable).toBeUndefined();
    expect(p.a.manager!.homeInstanceUrl).toBe(RELAY_URL_3);
  });

  it('after the mark expires, a failed probe changes nothing; a good one moves both back once', async () => {
    const p = await homedApart();
    p.block(p.b, RELAY_URL);
    await untilBothOn(p, RELAY_URL_2, 20_000);
    await p.run(5_000);
    const before = { offers: offers(p), a: p.a.conn.counters.relayTeardowns, b: p.b.conn.counters.relayTeardowns };
    // Still unreachable at the first expiry: the probe fails, nothing moves, no offer goes out.
    await p.run(TTL + 5_000, 200);
    expect((await p.b.conn.status()).relay.unreachable).toBe(RELAY_URL);
    expect(offers(p)).toBe(before.offers);
    expect(p.a.conn.counters.relayTeardowns).toBe(before.a);
    expect(p.b.conn.counters.relayTeardowns).toBe(before.b);
    expect(await p.tunnelWorks()).toBe(true);
    // Reachable again: the next probe succeeds and both sides return to the controller's home.
    p.block(p.b, RELAY_URL, false);
    await untilBothOn(p, RELAY_URL, TTL + 20_000);
    expect((await p.b.conn.status()).relay.unreachable).toBeUndefined();
    expect(p.a.conn.counters.relayTeardowns).toBe(before.a + 1);
    expect(p.b.conn.counters.relayTeardowns).toBe(before.b + 1);
    expect(p.relayNet.server(RELAY_URL)!.isOnline(p.b.key)).toBe(true);
    const settled = { offers: offers(p), teardowns: teardowns(p) };
    await p.run(60_000, 200);
    expect(offers(p)).toBe(settled.offers);
    expect(teardowns(p)).toBe(settled.teardowns);
  });

  it('both homes unreachable from the other side: bounded offers, no storm, state stays small', async () => {
    const p = await homedApart();
    p.block(p.b, RELAY_URL);
    p.block(p.a, RELAY_URL_2);
    const offers0 = offers(p);
    const teardowns0 = teardowns(p);
    const minutes = 10;
    await p.run(minutes * 60_000, 250);
    expect(p.a.conn.activePath).toBe('none');
    expect(p.b.conn.activePath).toBe('none');
    expect((await p.b.conn.status()).relay.unreachable).toBe(RELAY_URL);
    // The guard's ladder (cap ≥ 30 s) bounds offers: ~20 per side per 10 min plus the first rungs.
    const sent = offers(p) - offers0;
    expect(sent).toBeLessThanOrEqual(2 * (minutes * 2 + 8));
    expect(teardowns(p) - teardowns0).toBeLessThanOrEqual(3);
    expect(p.clock.pendingTimers()).toBeLessThan(60);
    // And when the follower can reach the controller's home again, they meet there.
    p.block(p.b, RELAY_URL, false);
    await untilBothOn(p, RELAY_URL, TTL + 60_000);
  });

  it("peers without relay-fallback behave as before: the follower keeps dialling the controller's home", async () => {
    // Both play the old build: no capability, no mark on the wire.
    const old = (m: SignalMessage): SignalMessage => {
      if (m.type === 'candidate') return m;
      const relay = m.relay ? { url: m.relay.url } : null;
      return { ...m, caps: m.caps.filter((c) => c !== 'relay-fallback'), relay };
    };
    const p = await homedApart({ rewriteA: old, rewriteB: old });
    p.block(p.b, RELAY_URL);
    await p.run(60_000, 200);
    const sa = await p.a.conn.status();
    const sb = await p.b.conn.status();
    expect(sb.relay.unreachable).toBeUndefined();
    expect(sa.relay.server).toBe(RELAY_URL);
    expect(sb.active).toBe('none');
    expect(p.relayNet.server(RELAY_URL_2)!.isOnline(p.a.key)).toBe(false);
    // A new follower facing an old controller does not mark either (the controller would ignore it).
    await pair!.teardown();
    const q = await homedApart({ rewriteA: old });
    pair = q;
    q.block(q.b, RELAY_URL);
    await q.run(30_000, 200);
    expect((await q.b.conn.status()).relay.unreachable).toBeUndefined();
    expect((await q.a.conn.status()).relay.server).toBe(RELAY_URL);
  });

  it('a malformed mark is rejected and counted, and changes nothing', async () => {
    let corrupt = false;
    const p = await homedApart({
      rewriteB: (m) =>
        !corrupt || m.type === 'candidate' || !m.relay ? m : { ...m, relay: { ...m.relay, unreachable: m.relay.url } },
    });
    corrupt = true;
    const bad0 = p.a.conn.counters.badMessages;
    await p.b.conn.sendOffer();
    await p.run(1_000);
    expect(p.a.conn.counters.badMessages).toBeGreaterThan(bad0);
    expect((await p.a.conn.status()).relay.server).toBe(RELAY_URL);
    expect(p.a.conn.activePath).toBe('relay');
  });
});
