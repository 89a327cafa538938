import { hasCode, onceEvent, type PeerKey } from '@mesh/core';
import { type RelayClientLike, RelayManager } from '@mesh/relay-manager';
import { randomPeerKey } from '@mesh/relay-manager/testing';
import { describe, expect, it } from 'vitest';
import { harness, S1, S2, S3, settle } from './harness.js';

const code = (c: string) => (err: unknown) => hasCode(err, c);

describe('configuration and lifecycle', () => {
  it('rejects bad options with ERR_INVALID_ARGUMENT', () => {
    const base = { urls: [S1.url], token: 't', localKey: randomPeerKey() };
    expect(() => new RelayManager({ ...base, urls: [] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(() => new RelayManager({ ...base, raceConcurrency: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(() => new RelayManager({ ...base, foreignIdleMs: Number.NaN })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });

  it('openConn before start is ERR_RELAY_NOT_STARTED; after stop everything is ERR_RELAY_STOPPED', async () => {
    const h = harness();
    await expect(h.mgr.openConn(S1.instance, randomPeerKey())).rejects.toSatisfy(code('ERR_RELAY_NOT_STARTED'));
    await h.mgr.start();
    await h.mgr.stop();
    await h.mgr.stop();
    await expect(h.mgr.openConn(S1.instance, randomPeerKey())).rejects.toSatisfy(code('ERR_RELAY_STOPPED'));
    await expect(h.mgr.closeConnByPeerKey(S1.instance, randomPeerKey())).rejects.toSatisfy(code('ERR_RELAY_STOPPED'));
    await expect(h.mgr.start()).rejects.toSatisfy(code('ERR_RELAY_STOPPED'));
  });

  it('start() is idempotent and reports the home instance URL (not the dial URL)', async () => {
    const h = harness();
    const a = h.mgr.start();
    expect(h.mgr.start()).toBe(a);
    await a;
    expect(h.mgr.homeInstanceUrl).toBe(S1.instance);
    expect(h.mgr.ready).toBe(true);
    expect(h.events.homeChanged).toEqual([{ previous: undefined, current: S1.instance }]);
    expect(h.dials).toHaveLength(1);
    await h.mgr.stop();
    expect(h.clock.pendingTimers()).toBe(0);
  });
});

describe('home race', () => {
  it('picks the first to authenticate and closes the others, even those that finish later', async () => {
    const h = harness({ urls: [S1.url, S2.url, S3.url] });
    h.net.server(S1.url)!.connectDelayMs = 300;
    h.net.server(S2.url)!.connectDelayMs = 100;
    h.net.server(S3.url)!.connectDelayMs = 200;
    const started = settle(h.mgr.start());
    await h.clock.advance(99);
    expect(started.done).toBe(false);
    await h.clock.advance(1);
    expect(started.done).toBe(true);
    expect(started.error).toBeUndefined();
    expect(h.mgr.homeInstanceUrl).toBe(S2.instance);
    await h.clock.advance(1_000);
    for (const c of [...h.managerClients(S1.url), ...h.managerClients(S3.url)]) expect(c.closeCalls).toBeGreaterThan(0);
    expect(h.net.server(S1.url)!.sessionCount + h.net.server(S3.url)!.sessionCount).toBe(0);
    expect(h.net.server(S2.url)!.sessionCount).toBe(1);
    expect(h.events.homeChanged).toEqual([{ previous: undefined, current: S2.instance }]);
    await h.mgr.stop();
    expect(h.clock.pendingTimers()).toBe(0);
  });

  it('dials at most raceConcurrency URLs at once, in order, moving on as dials fail', async () => {
    const h = harness({ urls: [S1.url, S2.url, S3.url], raceConcurrency: 2 });
    h.net.server(S1.url)!.connectDelayMs = 1_000;
    h.net.server(S1.url)!.up = false;
    h.net.server(S2.url)!.connectDelayMs = 1_000;
    h.net.server(S2.url)!.up = false;
    h.net.server(S3.url)!.connectDelayMs = 100;
    const started = settle(h.mgr.start());
    await h.clock.advance(0);
    expect(h.dials.map((d) => d.url)).toEqual([S1.url, S2.url]);
    await h.clock.advance(1_000);
    expect(h.dials.map((d) => [d.url, d.at])).toEqual([
      [S1.url, 0],
      [S2.url, 0],
      [S3.url, 1_000],
    ]);
    await h.clock.advance(100);
    expect(started.done).toBe(true);
    expect(h.mgr.homeInstanceUrl).toBe(S3.instance);
    await h.mgr.stop();
  });

  it('gives up after raceTimeoutMs with ERR_RELAY_NO_HOME and aborts the pending dials', async () => {
    const h = harness({ urls: [S1.url, S2.url], raceTimeoutMs: 5_000 });
    h.net.server(S1.url)!.connectDelayMs = 60_000;
    h.net.server(S2.url)!.connectDelayMs = 60_000;
    const started = settle(h.mgr.start());
    await h.clock.advance(4_999);
    expect(started.done).toBe(false);
    await h.clock.advance(1);
    expect(started.done).toBe(true);
    expect(hasCode(started.error, 'ERR_RELAY_NO_HOME')).toBe(true);
    expect(h.mgr.ready).toBe(false);
    for (const c of h.managerClients()) expect(c.state).not.toBe('connected');
    await h.mgr.stop();
    expect(h.clock.pendingTimers()).toBe(0);
  });

  it('no reachable URL: ERR_RELAY_NO_HOME at once, then the ladder finds the server when it comes up', async () => {
    const h = harness();
    h.net.server(S1.url)!.up = false;
    await expect(h.mgr.start()).rejects.toSatisfy(code('ERR_RELAY_NO_HOME'));
    h.net.server(S1.url)!.restart();
    await h.clock.advance(999);
    expect(h.mgr.ready).toBe(false);
    await h.clock.advance(1);
    expect(h.mgr.ready).toBe(true);
    expect(h.events.reconnected).toEqual([{ instanceUrl: S1.instance, previous: undefined }]);
    expect(h.events.homeChanged).toEqual([{ previous: undefined, current: S1.instance }]);
    await h.mgr.stop();
  });
});

describe('home reconnect', () => {
  it('quick retry 1 s, then 1 s ×1.3 → 30 s (no jitter at factor 1); reconnected fires; the ladder resets', async () => {
    const h = harness();
    await h.mgr.start();
    const s1 = h.net.server(S1.url)!;
    s1.kill();
    expect(h.mgr.ready).toBe(false);
    const lostAt = h.clock.monotonic();
    for (let i = 0; i < 20; i++) await h.clock.runNext();
    const gaps = h.dials.slice(1).map((d, i) => d.at - (i === 0 ? lostAt : h.dials[i]!.at));
    expect(gaps.slice(0, 8)).toEqual([1_000, 1_000, 1_300, 1_690, 2_197, 2_856, 3_713, 4_827]);
    expect(gaps.slice(-3)).toEqual([30_000, 30_000, 30_000]);
    // A 5 s restart meets attempts ≤ 2.2 s apart; the 30 s cap begins after about 100 s.
    expect(h.dials.findIndex((d) => d.at - lostAt >= 5_000)).toBe(5);
    const firstCapped = gaps.indexOf(30_000);
    const capAt = gaps.slice(0, firstCapped).reduce((a, b) => a + b, 0);
    expect(capAt).toBeGreaterThan(90_000);
    expect(capAt).toBeLessThan(110_000);
    s1.restart();
    await h.clock.runNext();
    expect(h.mgr.ready).toBe(true);
    expect(h.events.reconnected).toEqual([{ instanceUrl: S1.instance, previous: S1.instance }]);
    expect(h.events.homeChanged).toHaveLength(1); // same server: the home did not change

    // Success reset the ladder: a new loss starts again at quick retry then 1 s.
    s1.kill();
    const lost2 = h.clock.monotonic();
    const before = h.dials.length;
    await h.clock.runNext();
    await h.clock.runNext();
    expect(h.dials.slice(before).map((d) => d.at - lost2)).toEqual([1_000, 2_000]);
    await h.mgr.stop();
    expect(h.clock.pendingTimers()).toBe(0);
  });

  it('retryHome(): a peer reports the server back → the current wait is cut short, at most once per 15 s', async () => {
    const h = harness();
    await h.mgr.start();
    const s1 = h.net.server(S1.url)!;
    expect(h.mgr.retryHome(S1.url, 'test')).toBe(false); // home is up: nothing to cut short
    s1.kill();
    // 10 minutes down: the ladder is at its 30 s cap.
    await h.clock.advance(600_000);
    s1.restart();
    expect(h.mgr.ready).toBe(false);
    expect(h.mgr.retryHome('rel://elsewhere.test:443', 'test')).toBe(false); // not one of ours
    expect(h.mgr.retryHome(S1.instance, 'peer-reached')).toBe(true);
    await h.clock.advance(100);
    expect(h.mgr.ready).toBe(true);
    expect(h.events.reconnected).toHaveLength(1);

    // Lost again at once: hints within 15 s of the last one are ignored, the ladder runs as usual.
    s1.kill();
    await h.clock.advance(100);
    s1.restart();
    expect(h.mgr.retryHome(S1.url, 'peer-reached')).toBe(false);
    await h.clock.advance(15_000);
    expect(h.mgr.ready).toBe(true); // the quick retry (1 s ±50 %) did it
    await h.mgr.stop();
    expect(h.mgr.retryHome(S1.url, 'after-stop')).toBe(false);
    expect(h.clock.pendingTimers()).toBe(0);
  });

  it('the quick retry brings the home back after a restart', async () => {
    const h = harness();
    await h.mgr.start();
    const s1 = h.net.server(S1.url)!;
    s1.kill();
    s1.restart();
    await h.clock.advance(1_500);
    expect(h.mgr.ready).toBe(true);
    expect(h.events.reconnected).toHaveLength(1);
    await h.mgr.stop();
  });

  it('a home that dies while reconnected is being delivered starts a new reconnect loop', async () => {
    const h = harness();
    await h.mgr.start();
    const s1 = h.net.server(S1.url)!;
    let again = true;
    h.mgr.on('reconnected', () => {
      if (!again) return;
      again = false;
      s1.kill(); // dies inside the reconnected listener, before the loop that installed it returned
      s1.restart();
    });
    s1.kill();
    s1.restart();
    await h.clock.advance(1_500);
    expect(h.events.reconnected).toHaveLength(1);
    expect(h.mgr.ready).toBe(false);
    await h.clock.advance(1_500);
    expect(h.events.reconnected).toHaveLength(2);
    expect(h.mgr.ready).toBe(true);
    await h.mgr.stop();
    expect(h.clock.pendingTimers()).toBe(0);
  });

  it('a throwing listener does not break the manager', async () => {
    const h = harness();
    h.mgr.on('relay-disconnected', () => {
      throw new Error('listener bug');
    });
    await h.mgr.start();
    h.net.server(S1.url)!.kill();
    h.net.server(S1.url)!.restart();
    await h.clock.advance(1_500);
    expect(h.mgr.ready).toBe(true);
    await h.mgr.stop();
  });

  it('reconnect(): a forced re-login of the home for evidence the server forgot us, at most once per window', async () => {
    const h = harness({ forcedReconnectMinMs: 30_000 });
    await h.mgr.start();
    const remote = await h.remote(S1.url);
    await h.mgr.openConn(S1.instance, remote.key);
    expect(h.mgr.reconnect(S1.instance, 'test')).toBe(true);
    expect(h.events.disconnected.map((d) => [d.cause, d.peers.length])).toEqual([['forced:test', 1]]);
    expect(h.mgr.ready).toBe(false);
    await h.clock.advance(1_500);
    expect(h.mgr.ready).toBe(true);
    expect(h.events.reconnected).toHaveLength(1);
    // Within the window a second call does nothing: a confused owner cannot start a loop.
    expect(h.mgr.reconnect(S1.instance, 'again')).toBe(false);
    await h.clock.advance(30_000);
    expect(h.mgr.reconnect(S1.instance, 'later')).toBe(true);
    expect(h.mgr.reconnect('rel://unknown:1', 'x')).toBe(false);
    await h.mgr.stop();
  });

  it('the quick retry and the ladder are jittered within ±50 %', async () => {
    const h = harness({ random: undefined }); // node:crypto jitter
    await h.mgr.start();
    h.net.server(S1.url)!.kill();
    const lostAt = h.clock.monotonic();
    for (let i = 0; i < 9; i++) await h.clock.runNext();
    const at = [lostAt, ...h.dials.slice(1).map((d) => d.at)];
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    const bases = [1_000, 1_000, 1_300, 1_690, 2_197, 2_856.1, 3_712.93, 4_826.809, 6_274.8517];
    gaps.forEach((g, i) => {
      expect(g).toBeGreaterThanOrEqual(Math.floor(bases[i]! * 0.5));
      expect(g).toBeLessThanOrEqual(Math.ceil(bases[i]! * 1.5));
    });
    expect(new Set(gaps.map((g, i) => g / bases[i]!)).size).toBeGreaterThan(1); // really random
    await h.mgr.stop();
  });

  it('home moves to another server: home-changed + reconnected, and a foreign client there is evicted', async () => {
    const h = harness({ urls: [S1.url, S2.url] });
    const b = await h.remote(S2.url);
    h.net.server(S2.url)!.connectDelayMs = 50; // S1 wins the first race
    const started = settle(h.mgr.start());
    await h.clock.advance(0);
    expect(started.done).toBe(true);
    expect(h.mgr.homeInstanceUrl).toBe(S1.instance);
    h.net.server(S2.url)!.connectDelayMs = 0;
    const [conn] = await Promise.all([h.mgr.openConn(S2.instance, b.key), b.open(h.key)]);
    expect(h.mgr.foreignServers()).toEqual([S2.instance]);
    h.net.server(S1.url)!.kill();
    h.net.server(S2.url)!.connectDelayMs = 50;
    await h.clock.advance(1_500 + 2_000 + 50);
    expect(h.mgr.homeInstanceUrl).toBe(S2.instance);
    expect(h.events.homeChanged.at(-1)).toEqual({ previous: S1.instance, current: S2.instance });
    expect(h.events.reconnected).toEqual([{ instanceUrl: S2.instance, previous: S1.instance }]);
    expect(h.mgr.foreignServers()).toEqual([]);
    expect(conn.closed).toBe(true);
    const foreignLoss = h.events.disconnected.find((d) => !d.home);
    expect(foreignLoss?.serverUrl).toBe(S2.instance);
    expect(foreignLoss?.peers.map((p) => p.base64)).toEqual([b.key.base64]);
    // The peer now re-opens through the new home: one session of ours on S2.
    await h.clock.advance(0);
    const again = await h.mgr.openConn(S2.instance, b.key);
    expect(again.closed).toBe(false);
    expect(h.managerClients(S2.instance).filter((c) => c.state === 'connected')).toHaveLength(0);
    expect(h.net.server(S2.url)!.isOnline(h.key)).toBe(true);
    await h.mgr.stop();
  });

  it('openConn for the home server while the home is down fails fast with ERR_RELAY_NO_HOME (no foreign dial)', async () => {
    const h = harness();
    await h.mgr.start();
    h.net.server(S1.url)!.kill();
    const dials = h.dials.length;
    await expect(h.mgr.openConn(S1.instance, randomPeerKey())).rejects.toSatisfy(code('ERR_RELAY_NO_HOME'));
    expect(h.dials.length).toBe(dials);
    expect(await h.mgr.closeConnByPeerKey(S1.instance, randomPeerKey())).toBe(false);
    await h.mgr.stop();
  });

  it('token updates are used by the next dial (reconnect and foreign)', async () => {
    const h = harness();
    await h.mgr.start();
    expect(h.net.server(S1.url)!.tokensSeen).toEqual(['t1']);
    h.mgr.updateToken('t2');
    h.net.server(S1.url)!.acceptToken = (t) => t === 't2';
    h.net.server(S1.url)!.kill();
    h.net.server(S1.url)!.restart();
    await h.clock.advance(1_500);
    expect(h.mgr.ready).toBe(true);
    expect(h.net.server(S1.url)!.tokensSeen).toEqual(['t1', 't2']);
    let n = 0;
    h.mgr.updateToken(() => `t3-${++n}`);
    const b = await h.remote(S2.url);
    await Promise.all([h.mgr.openConn(S2.instance, b.key), b.open(h.key)]);
    expect(h.net.server(S2.url)!.tokensSeen).toContain('t3-1');
    expect(() => h.mgr.updateToken(42 as unknown as string)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    await h.mgr.stop();
  });
});

describe('socket verification (half-open sockets)', () => {
  it('verify(): a live connection answers; a half-open home is dropped at the pong deadline and the quick retry brings it back', async () => {
    const h = harness();
    await h.mgr.start();
    const remote = await h.remote(S1.url);
    await h.mgr.openConn(S1.instance, remote.key);
    await expect(h.mgr.verify(S1.instance, 'test')).resolves.toBe(true);
    await expect(h.mgr.verify('rel://unknown:1', 'test')).resolves.toBe(false);
    expect(h.events.disconnected).toEqual([]);
    // The relay was killed and came straight back, but its reset never reached us.
    const s1 = h.net.server(S1.url)!;
    s1.halfOpen();
    s1.restart();
    const verdict = settle(h.mgr.verify(S1.instance, 'path-silent'));
    await h.clock.advance(2_999);
    expect(verdict.done).toBe(false);
    expect(h.mgr.ready).toBe(true);
    await h.clock.advance(1);
    expect(verdict.value).toBe(false);
    expect(h.events.disconnected.map((d) => [d.cause, d.home, d.peers.length])).toEqual([['ping-timeout', true, 1]]);
    await h.clock.advance(1_000);
    expect(h.mgr.ready).toBe(true);
    expect(h.events.reconnected).toHaveLength(1);
    await h.mgr.stop();
    expect(h.clock.pendingTimers()).toBe(0);
  });

  it('verify() on a half-open foreign server evicts it; the next openConn dials anew', async () => {
    const h = harness();
    await h.mgr.start();
    await h.mgr.openConn(S2.instance, (await h.remote(S2.url)).key);
    const s2 = h.net.server(S2.url)!;
    s2.halfOpen();
    s2.restart();
    const verdict = settle(h.mgr.verify(S2.instance, 'path-silent'));
    await h.clock.advance(3_000);
    expect(verdict.value).toBe(false);
    expect(h.events.disconnected.map((d) => [d.serverUrl, d.cause, d.home])).toEqual([
      [S2.instance, 'ping-timeout', false],
    ]);
    expect(h.mgr.foreignServers()).toEqual([]);
    const conn = await h.mgr.openConn(S2.instance, (await h.remote(S2.url)).key);
    expect(conn.closed).toBe(false);
    expect(h.managerClients(S2.instance)).toHaveLength(2);
    await h.mgr.stop();
  });

  it('reconnect() inside its window: a socket that answers is left alone (§15), a dead one is dropped at once', async () => {
    const h = harness({ forcedReconnectMinMs: 30_000 });
    await h.mgr.start();
    expect(h.mgr.reconnect(S1.instance, 'first')).toBe(true);
    await h.clock.advance(1_000);
    expect(h.mgr.ready).toBe(true);
    // The server forgot us but keeps the socket: it answers pings, so only the window's next turn re-logs.
    const s1 = h.net.server(S1.url)!;
    s1.forget(h.key);
    expect(h.mgr.reconnect(S1.instance, 'again')).toBe(false);
    await h.clock.advance(10_000);
    expect(h.events.disconnected.map((d) => d.cause)).toEqual(['forced:first']);
    expect(h.mgr.ready).toBe(true);
    // Now the socket itself is dead: the same call drops it after the pong deadline, window or not.
    s1.halfOpen();
    s1.restart();
    expect(h.mgr.reconnect(S1.instance, 'again')).toBe(false);
    await h.clock.advance(2_999);
    expect(h.events.disconnected).toHaveLength(1);
    await h.clock.advance(1);
    expect(h.events.disconnected.map((d) => d.cause)).toEqual(['forced:first', 'ping-timeout']);
    await h.clock.advance(1_000);
    expect(h.mgr.ready).toBe(true);
    expect(h.events.reconnected).toHaveLength(2);
    await h.mgr.stop();
  });

  it('stop() while a verification waits: it resolves false, nothing is emitted, no timer is left', async () => {
    const h = harness();
    await h.mgr.start();
    h.net.server(S1.url)!.halfOpen();
    const verdict = settle(h.mgr.verify(S1.instance, 'path-silent'));
    await h.mgr.stop();
    await h.clock.advance(0);
    expect(verdict.value).toBe(false);
    expect(h.events.disconnected).toEqual([]);
    expect(h.clock.pendingTimers()).toBe(0);
    await expect(h.mgr.verify(S1.instance, 'late')).rejects.toSatisfy(code('ERR_RELAY_STOPPED'));
  });
});

describe('foreign relays', () => {
  it('concurrent openConns to a server not yet connected share ONE dial', async () => {
    const h = harness();
    await h.mgr.start();
    const remotes = await Promise.all([h.remote(S2.url), h.remote(S2.url), h.remote(S2.url)]);
    h.net.server(S2.url)!.connectDelayMs = 500;
    const opens = remotes.map((r) => settle(h.mgr.openConn(S2.instance, r.key)));
    await h.clock.advance(499);
    expect(opens.some((o) => o.done)).toBe(false);
    expect(h.managerClients(S2.instance)).toHaveLength(1);
    await h.clock.advance(1);
    expect(opens.every((o) => o.done && !o.error)).toBe(true);
    expect(h.managerClients(S2.instance)).toHaveLength(1);
    expect(h.mgr.foreignServers()).toEqual([S2.instance]);
    await h.mgr.stop();
  });

  it('one waiter aborting does not abort the shared dial', async () => {
    const h = harness();
    await h.mgr.start();
    const [b, c] = await Promise.all([h.remote(S2.url), h.remote(S2.url)]);
    h.net.server(S2.url)!.connectDelayMs = 500;
    const ac = new AbortController();
    const first = settle(h.mgr.openConn(S2.instance, b.key, { signal: ac.signal }));
    const second = settle(h.mgr.openConn(S2.instance, c.key));
    await h.clock.advance(100);
    ac.abort();
    await h.clock.advance(0);
    expect(first.done && hasCode(first.error, 'ERR_ABORTED')).toBe(true);
    await h.clock.advance(400);
    expect(second.done && !second.error).toBe(true);
    expect(h.managerClients(S2.instance)).toHaveLength(1);
    await h.mgr.stop();
  });

  it('a conn that arrives after its caller aborted is closed, not left as an ownerless entry (F-R-3)', async () => {
    // A client that ignores the abort signal: its openConn resolves after the caller gave up.
    const deaf = (c: RelayClientLike): RelayClientLike =>
      new Proxy(c, {
        get(target, prop) {
          if (prop === 'openConn') return (peer: PeerKey) => target.openConn(peer);
          const v = Reflect.get(target, prop, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    const h = harness({ wrapClient: deaf });
    await h.mgr.start();
    const bKey = randomPeerKey();
    const ac = new AbortController();
    const open = settle(h.mgr.openConn(S2.instance, bKey, { signal: ac.signal }));
    await h.clock.advance(0);
    ac.abort();
    await h.clock.advance(0);
    expect(hasCode(open.error, 'ERR_ABORTED')).toBe(true);
    const client = h.managerClients(S2.instance)[0]!;
    expect(client.hasConn(bKey)).toBe(true); // still waiting inside the client
    const b = await h.remote(S2.url, bKey); // the peer comes online: the client's open resolves
    await h.clock.advance(0);
    expect(client.hasConn(bKey)).toBe(false);
    const [conn] = await Promise.all([h.mgr.openConn(S2.instance, bKey), b.open(h.key)]);
    expect(conn.closed).toBe(false);
    await h.mgr.stop();
  });

  it('a failed foreign dial rejects every waiter with ERR_RELAY_DIAL_FAILED and the next openConn dials anew', async () => {
    const h = harness();
    await h.mgr.start();
    h.net.server(S2.url)!.up = false;
    const k = randomPeerKey();
    const results = await Promise.allSettled([h.mgr.openConn(S2.instance, k), h.mgr.openConn(S2.instance, k)]);
    for (const r of results) expect(r.status === 'rejected' && hasCode(r.reason, 'ERR_RELAY_DIAL_FAILED')).toBe(true);
    expect(h.managerClients(S2.instance)).toHaveLength(1);
    h.net.server(S2.url)!.restart();
    const b = await h.remote(S2.url, k);
    await Promise.all([h.mgr.openConn(S2.instance, k), b.open(h.key)]);
    expect(h.managerClients(S2.instance)).toHaveLength(2);
    await h.mgr.stop();
  });

  it('ERR_CONN_ALREADY_EXISTS from the client passes through unchanged', async () => {
    const h = harness();
    await h.mgr.start();
    const b = await h.remote(S2.url);
    await Promise.all([h.mgr.openConn(S2.instance, b.key), b.open(h.key)]);
    await expect(h.mgr.openConn(S2.instance, b.key)).rejects.toSatisfy(code('ERR_CONN_ALREADY_EXISTS'));
    await h.mgr.stop();
  });

  it('closeConnByPeerKey goes to the client owning the entry, never to the home client', async () => {
    const h = harness();
    await h.mgr.start();
    // Peer A is reachable both through our home (S1) and through S2, so both clients hold an entry.
    const a = randomPeerKey();
    const aOnS1 = await h.remote(S1.url, a);
    const aOnS2 = await h.remote(S2.url, a);
    const [viaHome] = await Promise.all([h.mgr.openConn(S1.instance, a), aOnS1.open(h.key)]);
    const [viaForeign] = await Promise.all([h.mgr.openConn(S2.instance, a), aOnS2.open(h.key)]);
    const home = h.managerClients(S1.url)[0]!;
    const foreign = h.managerClients(S2.instance)[0]!;

    expect(await h.mgr.closeConnByPeerKey(S2.instance, a)).toBe(true);
    expect(foreign.hasConn(a)).toBe(false);
    expect(viaForeign.closed).toBe(true);
    expect(home.hasConn(a)).toBe(true);
    expect(viaHome.closed).toBe(false);
    // The foreign entry is gone, so a fresh open works there.
    const fresh = await h.mgr.openConn(S2.instance, a);
    expect(fresh.closed).toBe(false);

    expect(await h.mgr.closeConnByPeerKey(S1.instance, a)).toBe(true);
    expect(home.hasConn(a)).toBe(false);
    expect(foreign.hasConn(a)).toBe(true);
    expect(await h.mgr.closeConnByPeerKey(S1.instance, a)).toBe(false);
    expect(await h.mgr.closeConnByPeerKey('rel://unknown.test:9', a)).toBe(false);
    await h.mgr.stop();
  });

  it('closeConnByPeerKey during the foreign dial waits for it and applies in call order', async () => {
    const h = harness();
    await h.mgr.start();
    const [b, c] = await Promise.all([h.remote(S2.url), h.remote(S2.url)]);
    h.net.server(S2.url)!.connectDelayMs = 500;
    // open(b) then close(b): the close applies after the open, so open(b) loses its conn.
    const openB = settle(h.mgr.openConn(S2.instance, b.key));
    const closeB = settle(h.mgr.closeConnByPeerKey(S2.instance, b.key));
    // close(c) then open(c): nothing to close yet, the open that follows keeps its conn.
    const closeC = settle(h.mgr.closeConnByPeerKey(S2.instance, c.key));
    const openC = settle(h.mgr.openConn(S2.instance, c.key));
    await h.clock.advance(499);
    expect([openB, closeB, closeC, openC].some((s) => s.done)).toBe(false);
    await h.clock.advance(1);
    expect(closeB.value).toBe(true);
    expect(hasCode(openB.error, 'ERR_CLOSED')).toBe(true);
    expect(closeC.value).toBe(false);
    expect(openC.done && !openC.error && !openC.value!.closed).toBe(true);
    const client = h.managerClients(S2.instance)[0]!;
    expect(client.hasConn(b.key)).toBe(false);
    expect(client.hasConn(c.key)).toBe(true);
    await h.mgr.stop();
  });

  it('closeConnByPeerKey during a foreign dial that fails resolves false', async () => {
    const h = harness();
    await h.mgr.start();
    h.net.server(S2.url)!.connectDelayMs = 500;
    h.net.server(S2.url)!.up = false;
    const open = settle(h.mgr.openConn(S2.instance, randomPeerKey()));
    const close = settle(h.mgr.closeConnByPeerKey(S2.instance, randomPeerKey()));
    await h.clock.advance(500);
    expect(hasCode(open.error, 'ERR_RELAY_DIAL_FAILED')).toBe(true);
    expect(close.value).toBe(false);
    await h.mgr.stop();
  });

  for (const order of ['conns-first', 'event-first'] as const) {
    it(`a foreign disconnect evicts the client at once and lists every peer (${order})`, async () => {
      const h = harness({ network: { disconnectOrder: order } });
      await h.mgr.start();
      const remotes = await Promise.all([1, 2, 3, 4].map(() => h.remote(S2.url)));
      const conns = await Promise.all(
        remotes.map(async (r) => (await Promise.all([h.mgr.openConn(S2.instance, r.key), r.open(h.key)]))[0]),
      );
      const closes = conns.map((c) => onceEvent(c, 'close', { timeoutMs: 1_000 }));
      h.net.server(S2.url)!.kill();
      await Promise.all(closes);
      expect(h.events.disconnected).toHaveLength(1);
      const info = h.events.disconnected[0]!;
      expect(info.home).toBe(false);
      expect(info.serverUrl).toBe(S2.instance);
      expect(info.peers.map((p) => p.base64).sort()).toEqual(remotes.map((r) => r.key.base64).sort());
      expect(info.cause).toBe('socket-closed');
      expect(info.error).toBeInstanceOf(Error);
      expect(h.mgr.foreignServers()).toEqual([]);
      // No stale cache window (NetBird #6015): the very next openConn dials a new client.
      h.net.server(S2.url)!.restart();
      const b = await h.remote(S2.url);
      await Promise.all([h.mgr.openConn(S2.instance, b.key), b.open(h.key)]);
      expect(h.managerClients(S2.instance)).toHaveLength(2);
      expect(h.managerClients(S2.instance)[0]!.closeCalls).toBeGreaterThan(0);
      await h.mgr.stop();
    });

    it(`a home disconnect lists every peer on it (${order})`, async () => {
      const h = harness({ network: { disconnectOrder: order } });
      await h.mgr.start();
      const remotes = await Promise.all([1, 2, 3, 4, 5].map(() => h.remote(S1.url)));
      const conns = await Promise.all(
        remotes.map(async (r) => (await Promise.all([h.mgr.openConn(S1.instance, r.key), r.open(h.key)]))[0]),
      );
      // One peer's conn was closed by its owner before: it is not affected.
      conns[0]!.close();
      h.net.server(S1.url)!.kill();
      expect(conns.every((c) => c.closed)).toBe(true);
      expect(h.events.disconnected).toHaveLength(1);
      const info = h.events.disconnected[0]!;
      expect(info).toMatchObject({ home: true, serverUrl: S1.instance });
      expect(info.peers.map((p) => p.base64).sort()).toEqual(
        remotes
          .slice(1)
          .map((r) => r.key.base64)
          .sort(),
      );
      await h.mgr.stop();
    });
  }

  it('a peer that went offline before the disconnect is not listed', async () => {
    const h = harness();
    await h.mgr.start();
    const b = await h.remote(S2.url);
    const cKey = randomPeerKey();
    const c = await h.remoteClient(S2.url, cKey);
    await Promise.all([h.mgr.openConn(S2.instance, b.key), b.open(h.key)]);
    await Promise.all([h.mgr.openConn(S2.instance, cKey), c.openConn(h.key)]);
    c.close(); // peer-offline on our foreign client
    h.net.server(S2.url)!.kill();
    expect(h.events.disconnected[0]!.peers.map((p) => p.base64)).toEqual([b.key.base64]);
    await h.mgr.stop();
  });

  it('idle foreign clients are closed after foreignIdleMs; use in between restarts the wait', async () => {
    const h = harness({ foreignIdleMs: 60_000 });
    await h.mgr.start();
    const [b, c] = await Promise.all([h.remote(S2.url), h.remote(S2.url)]);
    const [conn] = await Promise.all([h.mgr.openConn(S2.instance, b.key), b.open(h.key)]);
    await h.clock.advance(120_000);
    expect(h.mgr.foreignServers()).toEqual([S2.instance]); // a live conn: never idle
    conn.close();
    await h.clock.advance(30_000);
    const [conn2] = await Promise.all([h.mgr.openConn(S2.instance, c.key), c.open(h.key)]);
    await h.clock.advance(59_000);
    expect(h.mgr.foreignServers()).toEqual([S2.instance]);
    await h.mgr.closeConnByPeerKey(S2.instance, c.key);
    expect(conn2.closed).toBe(true);
    await h.clock.advance(59_999);
    expect(h.mgr.foreignServers()).toEqual([S2.instance]);
    await h.clock.advance(1);
    expect(h.mgr.foreignServers()).toEqual([]);
    const client = h.managerClients(S2.instance)[0]!;
    expect(client.closeCalls).toBe(1);
    expect(h.net.server(S2.url)!.isOnline(h.key)).toBe(false);
    expect(h.events.disconnected).toEqual([]); // our own idle close is not a disconnect
    // The home is never idle-closed.
    expect(h.mgr.ready).toBe(true);
    await h.mgr.stop();
    expect(h.clock.pendingTimers()).toBe(0);
  });

  it('an openConn in progress keeps the foreign client alive past its idle deadline (F-R-13)', async () => {
    const h = harness({ foreignIdleMs: 60_000, network: { openTimeoutMs: 30_000 } });
    await h.mgr.start();
    const b = await h.remote(S2.url);
    const [conn] = await Promise.all([h.mgr.openConn(S2.instance, b.key), b.open(h.key)]);
    conn.close();
    await h.clock.advance(59_000);
    const late = randomPeerKey(); // not online yet: the open waits
    const open = settle(h.mgr.openConn(S2.instance, late));
    await h.clock.advance(5_000);
    expect(h.mgr.foreignServers()).toEqual([S2.instance]);
    const lateRemote = await h.remote(S2.url, late);
    await lateRemote.open(h.key);
    await h.clock.advance(0);
    expect(open.done && !open.error).toBe(true);
    await h.clock.advance(120_000);
    expect(h.mgr.foreignServers()).toEqual([S2.instance]);
    await h.mgr.stop();
  });

  it('tombstones: a conn closed by its peer going offline does not keep the client busy', async () => {
    const h = harness({ foreignIdleMs: 10_000 });
    await h.mgr.start();
    const bKey = randomPeerKey();
    const b = await h.remoteClient(S2.url, bKey);
    const [conn] = await Promise.all([h.mgr.openConn(S2.instance, bKey), b.openConn(h.key)]);
    b.close();
    expect(conn.closed).toBe(true);
    await h.clock.advance(10_000);
    expect(h.mgr.foreignServers()).toEqual([]);
    await h.mgr.stop();
  });
});

describe('stop', () => {
  it('stop during the race, a foreign dial and the ladder: rejects callers, no events, no timers', async () => {
    const h = harness({ urls: [S1.url, S3.url] });
    await h.mgr.start();
    const b = await h.remote(S2.url);
    h.net.server(S2.url)!.connectDelayMs = 10_000;
    const dial = settle(h.mgr.openConn(S2.instance, b.key));
    h.net.server(S1.url)!.kill();
    h.net.server(S3.url)!.up = false;
    await h.clock.advance(1_500 + 2_000 + 100); // in the ladder now
    const eventsBefore = h.events.all.length;
    await h.mgr.stop();
    await h.clock.advance(0);
    expect(hasCode(dial.error, 'ERR_RELAY_STOPPED')).toBe(true);
    expect(h.clock.pendingTimers()).toBe(0);
    h.net.server(S1.url)!.restart();
    h.net.server(S2.url)!.kill();
    await h.clock.advance(600_000);
    expect(h.events.all.length).toBe(eventsBefore);
    for (const c of h.managerClients()) expect(c.state).not.toBe('connected');
  });

  it('stop while start() is racing: start rejects ERR_RELAY_STOPPED and nothing is left connected', async () => {
    const h = harness();
    h.net.server(S1.url)!.connectDelayMs = 1_000;
    const started = settle(h.mgr.start());
    await h.clock.advance(10);
    await h.mgr.stop();
    await h.clock.advance(0);
    expect(hasCode(started.error, 'ERR_RELAY_STOPPED')).toBe(true);
    await h.clock.advance(5_000);
    expect(h.net.server(S1.url)!.sessionCount).toBe(0);
    expect(h.events.all).toEqual([]);
    expect(h.clock.pendingTimers()).toBe(0);
  });

  it('stop closes every client, home and foreign, and their conns', async () => {
    const h = harness();
    await h.mgr.start();
    const [a, b] = await Promise.all([h.remote(S1.url), h.remote(S2.url)]);
    const conns = await Promise.all([
      Promise.all([h.mgr.openConn(S1.instance, a.key), a.open(h.key)]).then(([c]) => c),
      Promise.all([h.mgr.openConn(S2.instance, b.key), b.open(h.key)]).then(([c]) => c),
    ]);
    await h.mgr.stop();
    expect(conns.every((c) => c.closed)).toBe(true);
    expect(h.managerClients().every((c) => c.closeCalls > 0)).toBe(true);
    expect(h.mgr.ready).toBe(false);
    expect(h.mgr.homeInstanceUrl).toBeUndefined();
    expect(h.events.disconnected).toEqual([]);
  });
});
