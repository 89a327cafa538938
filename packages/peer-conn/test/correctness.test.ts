import { HandshakeWatcher } from '@mesh/wg-control';
import { afterEach, describe, expect, it } from 'vitest';
import type { OfferMessage, SignalMessage } from '../src/index.js';
import { makePair, type Pair, RELAY_URL, RELAY_URL_2, upDirect } from './harness.js';

// Holes found while splitting PeerConn into parts; each test fails on the monolithic PeerConn.

let pair: Pair | undefined;
afterEach(async () => {
  await pair?.teardown();
  pair = undefined;
});

describe('PeerConn correctness', () => {
  it('ignores a reordered offer naming a remote ICE session already known dead', async () => {
    const fromB: SignalMessage[] = [];
    const record = (m: SignalMessage) => {
      fromB.push(structuredClone(m));
      return m;
    };
    pair = await makePair({ b: { rewrite: record } });
    const { a, b, iceNet, until } = pair;
    await pair.start();
    await upDirect(pair);
    const oldSession = (await b.conn.status()).ice.localSessionId;
    const old = fromB.find((m): m is OfferMessage => m.type !== 'candidate' && m.ice?.sessionId === oldSession);
    if (!old?.ice) throw new Error('B sent nothing for its first session');
    // Both sides rotate (the direct path dies), then meet again on new sessions.
    iceNet.setReachable(false);
    await until(() => a.conn.activePath === 'relay' && b.conn.activePath === 'relay', 30_000, 100);
    iceNet.setReachable(true);
    await until(() => a.conn.activePath === 'ice-direct' && b.conn.activePath === 'ice-direct', 120_000, 200);
    const live = (await a.conn.status()).ice.remoteSessionId;
    expect(live).not.toBe(oldSession);
    const changes = a.events.filter((e) => e.type === 'path-changed').length;
    // The old offer arrives now, long after it was sent.
    const { inReplyTo: _, ...ice } = old.ice;
    pair.hub.route(b.key, a.key, { ...old, type: 'offer', ice });
    await pair.run(5_000);
    expect(a.conn.activePath).toBe('ice-direct');
    expect((await a.conn.status()).ice.remoteSessionId).toBe(live);
    expect(a.events.filter((e) => e.type === 'path-changed')).toHaveLength(changes);
  });

  it('marks the relay entry stale only for a relay-disconnected naming its own server', async () => {
    pair = await makePair({ b: { ice: false } });
    const { a, b, until } = pair;
    await pair.start();
    await until(() => a.conn.activePath === 'relay' && b.conn.activePath === 'relay', 10_000);
    expect((await a.conn.status()).relay.server).toBe(RELAY_URL);
    const stale = () => a.events.filter((e) => e.type === 'stale-marked').length;
    a.manager!.emit('relay-disconnected', {
      serverUrl: RELAY_URL_2,
      peers: [b.key],
      home: false,
      cause: 'socket-closed',
    });
    await pair.run(500);
    expect(stale()).toBe(0);
    expect((await a.conn.status()).relay.stale).toBe(false);
    // Control: the same event for the server the conn is on does mark it.
    a.manager!.emit('relay-disconnected', { serverUrl: RELAY_URL, peers: [b.key], home: true, cause: 'socket-closed' });
    await pair.run(500);
    expect(stale()).toBe(1);
  });

  it('charges a handshake timeout to the path that carried the window, not one switched to a moment ago', async () => {
    pair = await makePair();
    const { a, b, iceNet, until } = pair;
    await pair.start();
    await upDirect(pair);
    await until(() => a.conn.counters.relayOpens > 0 && b.conn.counters.relayOpens > 0, 10_000);
    iceNet.setReachable(false);
    await until(() => a.conn.activePath === 'relay', 30_000, 100);
    await pair.run(10_000);
    iceNet.setReachable(true);
    await until(() => a.conn.activePath === 'ice-direct', 120_000, 50);
    const rotations = a.events.filter((e) => e.type === 'session-rotated').length;
    // The window's verdict lands 0-50 ms after ICE took over from the relay that carried it.
    const watcher = HandshakeWatcher.current(a.wg.name, b.key);
    if (!watcher) throw new Error('no watcher for B on A');
    watcher.emit('handshake-timeout', {
      peer: b.key,
      reason: 'stale',
      lastHandshakeAt: 0,
      baseline: 0,
      detail: 'test: no handshake in the window',
    });
    await pair.run(500);
    expect(a.conn.activePath).toBe('ice-direct');
    expect(a.events.filter((e) => e.type === 'session-rotated')).toHaveLength(rotations);
    expect(a.events.at(-1)).toMatchObject({ type: 'stale-marked', info: { reason: 'handshake-timeout' } });
  });

  it('stop() closes a relay open still in flight: no orphan entry on a foreign relay', async () => {
    // A claims a home on relay 2, where it never connects: B's open there waits for A to come online.
    pair = await makePair({
      a: { rewrite: (m) => (m.type === 'candidate' ? m : { ...m, relay: { url: RELAY_URL_2 } }) },
    });
    const { a, b, relayNet, until } = pair;
    await pair.start();
    const foreign = () => relayNet.clients.find((c) => c.localKey.equals(b.key) && c.url === RELAY_URL_2);
    await until(() => foreign()?.connTo(a.key) !== undefined, 5_000, 10);
    await b.conn.stop();
    expect(foreign()?.connTo(a.key)).toBeUndefined();
  });
});
