import { hasCode, onceEvent, type PeerKey } from '@mesh/core';
import { toPeerId } from '@mesh/relay-client';
import { describe, expect, it } from 'vitest';
import {
  cliBuilt,
  freePort,
  RELAY_CLI,
  relayUrl,
  roundTrip,
  sigkill,
  startChildServer,
  startManager,
  startServer,
} from './real-helpers.js';

const WAIT = { timeoutMs: 10_000 };

describe('RelayManager with real relay servers on loopback', () => {
  it('B reaches A through S1 as a foreign server; closeConnByPeerKey(S1, A) closes exactly that entry; idle cleanup', async () => {
    const [s1, s2] = await Promise.all([startServer(), startServer()]);
    const a = await startManager([s1.instanceUrl]);
    const c = await startManager([s1.instanceUrl]);
    const b = await startManager([s2.instanceUrl], { foreignIdleMs: 300 });
    expect(a.mgr.homeInstanceUrl).toBe(s1.instanceUrl);
    expect(b.mgr.homeInstanceUrl).toBe(s2.instanceUrl);

    // B → A on A's home S1 (foreign for B), and B → C there too: one shared foreign client.
    const [bToA1, aToB1] = await Promise.all([
      b.mgr.openConn(s1.instanceUrl, a.key),
      a.mgr.openConn(s1.instanceUrl, b.key),
    ]);
    const [bToC1, cToB1] = await Promise.all([
      b.mgr.openConn(s1.instanceUrl, c.key),
      c.mgr.openConn(s1.instanceUrl, b.key),
    ]);
    expect(b.mgr.foreignServers()).toEqual([s1.instanceUrl]);
    await roundTrip(bToA1, aToB1, 'b to a via s1');
    await roundTrip(aToB1, bToA1, 'a to b via s1');
    await roundTrip(bToC1, cToB1, 'b to c via s1');
    // B also holds an entry for A on its home S2 (A comes there as a foreign client).
    const [bToA2, aToB2] = await Promise.all([
      b.mgr.openConn(s2.instanceUrl, a.key),
      a.mgr.openConn(s2.instanceUrl, b.key),
    ]);
    await roundTrip(bToA2, aToB2, 'b to a via s2');

    const closedOnS1 = onceEvent(bToA1, 'close', WAIT);
    expect(await b.mgr.closeConnByPeerKey(s1.instanceUrl, a.key)).toBe(true);
    await closedOnS1;
    // Exactly that entry: the home (S2) entry for the same peer and the other S1 entry still work.
    expect(bToA2.closed).toBe(false);
    expect(bToC1.closed).toBe(false);
    await roundTrip(bToA2, aToB2, 'still via s2');
    await roundTrip(bToC1, cToB1, 'still b to c via s1');
    expect(await b.mgr.closeConnByPeerKey(s1.instanceUrl, a.key)).toBe(false);

    // Last conn on S1 goes away: after foreignIdleMs B's foreign client leaves S1.
    const bLeftS1 = onceEvent(s1, 'peer-disconnected', {
      ...WAIT,
      filter: (info) => info.peerId.key === toPeerId(b.key).key,
    });
    bToC1.close();
    await bLeftS1;
    expect(b.mgr.foreignServers()).toEqual([]);
    expect(s1.hasPeer(b.key)).toBe(false);
    expect(b.mgr.ready).toBe(true);
  });

  it('home server restart: the manager reconnects within its backoff bound and a new openConn works', async () => {
    const port = await freePort();
    let s1 = await startServer(port);
    const quickRetryMs = 200;
    const backoff = { initial: 400, max: 1_000 };
    const a = await startManager([s1.instanceUrl], { reconnect: { quickRetryMs, backoff } });
    const peer = await startManager([s1.instanceUrl]);
    await Promise.all([a.mgr.openConn(s1.instanceUrl, peer.key), peer.mgr.openConn(s1.instanceUrl, a.key)]);

    const lost = onceEvent(a.mgr, 'relay-disconnected', WAIT);
    const reconnected = onceEvent(a.mgr, 'reconnected', WAIT);
    const peerBack = onceEvent(peer.mgr, 'reconnected', WAIT);
    await s1.stop();
    const [info] = await lost;
    expect(info.home).toBe(true);
    expect(info.peers.map((p: PeerKey) => p.base64)).toEqual([peer.key.base64]);
    // Downtime on purpose (not a wait for anything): the quick retry fails and the ladder runs.
    await new Promise((r) => setTimeout(r, 2 * quickRetryMs + backoff.initial));
    expect(a.mgr.ready).toBe(false);
    await expect(a.mgr.openConn(s1.instanceUrl, peer.key)).rejects.toSatisfy((e) => hasCode(e, 'ERR_RELAY_NO_HOME'));
    s1 = await startServer(port);
    const upAt = performance.now();
    await Promise.all([reconnected, peerBack]);
    // Bound: once the server is up, at most one ladder step (≤ max × 1.5) plus a dial.
    expect(performance.now() - upAt).toBeLessThan(backoff.max * 1.5 + 1_000);
    expect(a.mgr.homeInstanceUrl).toBe(s1.instanceUrl);
    const [x, y] = await Promise.all([
      a.mgr.openConn(s1.instanceUrl, peer.key),
      peer.mgr.openConn(s1.instanceUrl, a.key),
    ]);
    await roundTrip(x, y, 'after restart');
  });

  it('bad URLs are typed errors, not crashes: start() ERR_RELAY_NO_HOME, openConn ERR_RELAY_DIAL_FAILED', async () => {
    const s1 = await startServer();
    await expect(startManager(['not a url', 'ftp://x.test:1'])).rejects.toSatisfy((e) =>
      hasCode(e, 'ERR_RELAY_NO_HOME'),
    );
    const { mgr, key } = await startManager([s1.instanceUrl]);
    await expect(mgr.openConn('garbage', key)).rejects.toSatisfy((e) => hasCode(e, 'ERR_RELAY_DIAL_FAILED'));
    expect(mgr.ready).toBe(true);
  });

  it('a foreign server killed with SIGKILL is evicted at once and re-dialled on the next openConn', async () => {
    // nx builds dependencies before `test`; run by hand, build @mesh/relay-server first.
    expect(cliBuilt, `the mesh-relay CLI is not built (${RELAY_CLI})`).toBe(true);
    const s2 = await startServer();
    const port = await freePort();
    let s3 = await startChildServer(port);
    const s3Url = relayUrl(port);
    const a = await startManager([s3Url], { reconnect: { quickRetryMs: 100, backoff: { initial: 200, max: 500 } } });
    const b = await startManager([s2.instanceUrl]);
    const [bToA, aToB] = await Promise.all([b.mgr.openConn(s3Url, a.key), a.mgr.openConn(s3Url, b.key)]);
    await roundTrip(bToA, aToB, 'via the child relay');

    const evicted = onceEvent(b.mgr, 'relay-disconnected', WAIT);
    const bConnClosed = onceEvent(bToA, 'close', WAIT);
    await sigkill(s3);
    const [info] = await evicted;
    await bConnClosed;
    expect(info).toMatchObject({ serverUrl: s3Url, home: false });
    expect(info.peers.map((p: PeerKey) => p.base64)).toEqual([a.key.base64]);
    expect(b.mgr.foreignServers()).toEqual([]);
    // No stale client: the next openConn dials again (and fails fast while the server is down).
    await expect(b.mgr.openConn(s3Url, a.key)).rejects.toSatisfy((e) => hasCode(e, 'ERR_RELAY_DIAL_FAILED'));

    const aBack = onceEvent(a.mgr, 'reconnected', WAIT);
    s3 = await startChildServer(port);
    await aBack;
    const [bToA2, aToB2] = await Promise.all([b.mgr.openConn(s3Url, a.key), a.mgr.openConn(s3Url, b.key)]);
    await roundTrip(bToA2, aToB2, 'via the restarted child relay');
    expect(b.mgr.foreignServers()).toEqual([s3Url]);
    await sigkill(s3);
  }, 30_000);
});
