import { FakeClock, MemoryPath } from '@mesh/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ANSWER_WAIT_MS, CROSSED_INITIATION_WAIT_MS } from '../src/constants.js';
import { isProbe, isWireGuardMessage, PeerEndpoint, PROBE_SIZE } from '../src/index.js';
import { decodeProbe, encodeProbe, PING } from '../src/probe.js';
import {
  initiation,
  onCleanup,
  pairOfSides,
  RefusingPath,
  response,
  runCleanups,
  side,
  sideWithRemote,
  tags,
  WgSocketStub,
  wgMessage,
} from './helpers.js';

afterEach(runCleanups);

describe('probe format', () => {
  it('can never be mistaken for a WireGuard message, and WireGuard messages are never probes', () => {
    const p = encodeProbe(PING, 123.5, Buffer.alloc(8, 7));
    expect(p.length).toBe(PROBE_SIZE);
    expect(p[0]).toBe(0xff);
    expect(isWireGuardMessage(p)).toBe(false);
    expect(isProbe(p)).toBe(true);
    expect(decodeProbe(p)).toMatchObject({ kind: PING, sentAt: 123.5 });
    for (const t of [1, 2, 3, 4] as const) {
      expect(isWireGuardMessage(wgMessage(t))).toBe(true);
      expect(isProbe(wgMessage(t))).toBe(false);
    }
    expect(isWireGuardMessage(Buffer.from([5, 0, 0, 0]))).toBe(false);
    expect(isWireGuardMessage(Buffer.from([1, 0, 1, 0]))).toBe(false);
    const bad = Buffer.from(p);
    bad[4] = 9;
    expect(decodeProbe(bad)).toBeUndefined();
    expect(decodeProbe(p.subarray(0, 20))).toBeUndefined();
  });
});

describe('PeerEndpoint', () => {
  it('forwards WireGuard packets over the active path and delivers them from the remote endpoint socket', async () => {
    const { a, b, pa } = await pairOfSides({ probeIntervalMs: 0 });
    a.ep.setActive(pa);
    b.ep.setActive(b.ep.paths[0]!);
    a.wg.send(wgMessage(1), a.address);
    await b.wg.waitFor(1);
    expect(b.wg.received[0]!.data.equals(wgMessage(1))).toBe(true);
    expect(b.wg.received[0]!.from).toMatchObject({ address: '127.0.0.1', port: b.address.port });
    b.wg.send(wgMessage(2), b.address);
    await a.wg.waitFor(1);
    expect(a.wg.received[0]!.from.port).toBe(a.address.port);
    expect(a.ep.stats).toMatchObject({ fromWireguard: { packets: 1 }, toWireguard: { packets: 1 } });
  });

  it('switches the active path by reference: WireGuard always talks to the same socket', async () => {
    const clock = new FakeClock();
    const a = await side(clock, { probeIntervalMs: 0 });
    const b = await side(clock, { probeIntervalMs: 0 });
    const [a1, b1] = MemoryPath.pair('one');
    const [a2, b2] = MemoryPath.pair('two');
    for (const [ep, p] of [
      [a.ep, a1],
      [a.ep, a2],
      [b.ep, b1],
      [b.ep, b2],
    ] as const)
      ep.attach(p);
    const changes: Array<string | null> = [];
    a.ep.on('active-changed', ({ to }) => changes.push(to?.kind ?? null));
    a.ep.setActive(a1);
    a.wg.send(wgMessage(4, 'first'), a.address);
    await b.wg.waitFor(1);
    a.ep.setActive(a2);
    a.wg.send(wgMessage(4, 'second'), a.address);
    await b.wg.waitFor(2);
    expect(a1.counters.txPackets).toBe(1);
    expect(a2.counters.txPackets).toBe(1);
    expect(changes).toEqual(['one', 'two']);
    // Inbound from a standby (non-active) path still reaches WireGuard, from the same socket.
    b.ep.setActive(b1);
    b.wg.send(wgMessage(4, 'via-one'), b.address);
    await a.wg.waitFor(1);
    b2.send(wgMessage(4, 'standby'));
    await a.wg.waitFor(2);
    expect(new Set(a.wg.received.map((r) => r.from.port))).toEqual(new Set([a.address.port]));
  });

  it('counts every drop: no active path, refused send, not WireGuard, oversize, malformed probe', async () => {
    const clock = new FakeClock();
    const a = await side(clock, { probeIntervalMs: 0 });
    a.wg.send(wgMessage(4), a.address);
    const refusing = new RefusingPath();
    a.ep.attach(refusing);
    await expect.poll(() => a.ep.stats.drops.noActivePath, { timeout: 3000 }).toBe(1);
    a.ep.setActive(refusing);
    a.wg.send(wgMessage(4), a.address);
    await expect.poll(() => a.ep.stats.drops.pathSendFailed, { timeout: 3000 }).toBe(1);
    refusing.emit('data', Buffer.from('hello, not wireguard'));
    refusing.emit('data', Buffer.concat([wgMessage(4), Buffer.alloc(70_000)]));
    const badProbe = encodeProbe(PING, 1, Buffer.alloc(8));
    badProbe[5] = 1;
    refusing.emit('data', badProbe);
    expect(a.ep.stats.drops).toMatchObject({ notWireguard: 1, oversize: 1, malformedProbe: 1 });
    expect(a.ep.stats.fromWireguard.packets).toBe(2);
  });

  it('holds the latest handshake initiation while no path is active and sends it on activation', async () => {
    const { clock, a, b, pa } = await pairOfSides({ probeIntervalMs: 0 });
    b.ep.setActive(b.ep.paths[0]!);
    const first = Buffer.concat([wgMessage(1), Buffer.from('old')]);
    const latest = Buffer.concat([wgMessage(1), Buffer.from('new')]);
    a.wg.send(first, a.address);
    a.wg.send(wgMessage(4), a.address); // not an initiation: never held
    a.wg.send(latest, a.address);
    await expect.poll(() => a.ep.stats.drops.noActivePath, { timeout: 3000 }).toBe(3);
    a.ep.setActive(pa);
    await b.wg.waitFor(1);
    expect(b.wg.received.map((r) => r.data.toString('latin1').slice(-3))).toEqual(['new']);
    expect(a.ep.stats.heldHandshakesSent).toBe(1);
    // Once WireGuard's own retry is due (5 s), a held initiation is stale and dropped.
    a.ep.setActive(null);
    a.wg.send(latest, a.address);
    await expect.poll(() => a.ep.stats.drops.noActivePath, { timeout: 3000 }).toBe(4);
    await clock.advance(5_000);
    a.ep.setActive(pa);
    await new Promise((r) => setTimeout(r, 50));
    expect(b.wg.received).toHaveLength(1);
    expect(a.ep.stats.heldHandshakesSent).toBe(1);
  });

  it("holds WireGuard's answer instead of its own initiation, which answering made it forget", async () => {
    const { a, pa, remote, sent } = await sideWithRemote();
    a.wg.send(initiation(50), a.address); // held: no path is active
    await expect.poll(() => a.ep.stats.drops.noActivePath, { timeout: 3000 }).toBe(1);
    remote.send(initiation(7)); // lower index than ours: WireGuard gets it and answers it
    await a.wg.waitFor(1);
    a.wg.send(response(51, 7), a.address);
    await expect.poll(() => a.ep.stats.drops.noActivePath, { timeout: 3000 }).toBe(2);
    a.ep.setActive(pa);
    await expect.poll(() => sent.length, { timeout: 3000 }).toBe(1);
    expect(tags(sent.map((data) => ({ data })))).toEqual(['2:51']);
    expect(a.ep.stats.heldHandshakesSent).toBe(1);
  });

  it('forwards only what WireGuard sends: the local socket is connected to WireGuard', async () => {
    const { a, b, pa, pb } = await pairOfSides({ probeIntervalMs: 0 });
    a.ep.setActive(pa);
    b.ep.setActive(pb);
    const stranger = await WgSocketStub.open();
    onCleanup(() => stranger.close());
    await new Promise((r) => stranger.socket.send(wgMessage(4, 'intruder'), a.address.port, a.address.host, r));
    a.wg.send(wgMessage(4, 'genuine'), a.address);
    await b.wg.waitFor(1);
    expect(b.wg.received.map((r) => r.data.toString('latin1', 4))).toEqual(['genuine']);
    expect(a.ep.stats.fromWireguard.packets).toBe(1);
  });

  it('answers and sends probes, measures RTT, and never hands a probe to WireGuard', async () => {
    const { clock, a, b, pa, pb } = await pairOfSides();
    const alive: Array<{ via: string; rttMs: number | null }> = [];
    a.ep.on('path-alive', (i) => alive.push(i));
    for (let i = 0; i < 10; i++) await clock.advance(1000);
    expect(alive.length).toBe(1);
    expect(a.ep.pathStatus(pa)).toMatchObject({ alive: true, probeCapable: true });
    expect(a.ep.pathStatus(pa)!.rttMs).not.toBeNull();
    expect(a.ep.stats.probesSent).toBeGreaterThanOrEqual(10);
    expect(a.ep.stats.probesSent).toBeLessThanOrEqual(11); // ≤ 1 probe/s/path (+1 at attach)
    expect(a.ep.stats.pongsReceived).toBeGreaterThanOrEqual(9);
    expect(b.ep.stats.pongsSent).toBeGreaterThanOrEqual(9);
    expect(pa.counters.txBytes).toBe((a.ep.stats.probesSent + a.ep.stats.pongsSent) * PROBE_SIZE);
    // A real WireGuard packet as a marker: once it has arrived, any probe would have too.
    b.ep.setActive(pb);
    b.wg.send(wgMessage(4, 'marker'), b.address);
    await a.wg.waitFor(1);
    expect(a.wg.received.map((r) => r.data.toString('latin1', 4))).toEqual(['marker']);
    expect(b.wg.received).toEqual([]);
    expect(a.ep.stats.toWireguard.packets).toBe(1);
  });

  it('declares a black-holed path silent within the trust window, and alive again when it recovers', async () => {
    const { clock, a, pa, pb } = await pairOfSides({ trustWindowMs: 3000 });
    const events: Array<[string, number]> = [];
    a.ep.on('path-alive', () => events.push(['alive', clock.monotonic()]));
    a.ep.on('path-silent', ({ silentForMs }) => events.push(['silent', silentForMs]));
    await clock.advance(5000);
    expect(events.map((e) => e[0])).toEqual(['alive']);
    const lastHeard = a.ep.pathStatus(pa)!.lastRxAt;
    pa.setDeliver(false);
    pb.setDeliver(false);
    const cut = clock.now();
    await clock.advance(5000);
    const silent = events.find((e) => e[0] === 'silent');
    expect(silent).toBeDefined();
    expect(silent![1]).toBeGreaterThan(3000);
    expect(silent![1]).toBeLessThanOrEqual(3000 + 750); // checked every trustWindow/4
    expect(cut - lastHeard).toBeLessThanOrEqual(1000);
    pa.setDeliver(true);
    pb.setDeliver(true);
    await clock.advance(2000);
    expect(events.map((e) => e[0])).toEqual(['alive', 'silent', 'alive']);
  });

  it('a path attached after the remote answered probes elsewhere is judged by the short window at once', async () => {
    const { clock, a } = await pairOfSides({ trustWindowMs: 3000, trafficTrustWindowMs: 30_000 });
    await clock.advance(2000);
    const [dead] = MemoryPath.pair('dead', () => clock.now()); // a reopened conn that never carries anything
    dead.setDeliver(false);
    a.ep.attach(dead);
    expect(a.ep.pathStatus(dead)?.probeCapable).toBe(true);
    let silentAt = -1;
    const t0 = clock.monotonic();
    a.ep.on('path-silent', ({ path }) => {
      if (path === dead) silentAt = clock.monotonic() - t0;
    });
    await clock.advance(6000);
    expect(silentAt).toBeGreaterThan(0);
    expect(silentAt).toBeLessThanOrEqual(3000 + 750);
  });

  it('judges a path whose remote never answers probes by WireGuard traffic alone', async () => {
    const clock = new FakeClock();
    const a = await side(clock, { trustWindowMs: 3000, trafficTrustWindowMs: 30_000 });
    const [pa, remote] = MemoryPath.pair('plain', () => clock.now()); // nobody answers on the remote end
    a.ep.attach(pa);
    const verdicts: string[] = [];
    a.ep.on('path-alive', ({ via }) => verdicts.push(`alive:${via}`));
    a.ep.on('path-silent', () => verdicts.push('silent'));
    for (let i = 0; i < 6; i++) {
      remote.send(wgMessage(4)); // a keepalive every 10 s
      await clock.advance(10_000);
    }
    expect(verdicts).toEqual(['alive:traffic']);
    expect(a.ep.pathStatus(pa)).toMatchObject({ alive: true, probeCapable: false, rttMs: null });
    await clock.advance(31_000);
    expect(verdicts).toEqual(['alive:traffic', 'silent']);
    await a.wg.waitFor(6);
  });

  it('a path that never hears anything is declared silent once its window has passed since attach', async () => {
    const clock = new FakeClock();
    const a = await side(clock, { trafficTrustWindowMs: 10_000 });
    const [pa] = MemoryPath.pair('dead');
    a.ep.attach(pa);
    const silent: number[] = [];
    a.ep.on('path-silent', ({ silentForMs }) => silent.push(silentForMs));
    await clock.advance(10_000);
    expect(silent).toEqual([]);
    await clock.advance(1_000);
    expect(silent).toHaveLength(1);
  });

  it('detaches a path that closes by itself and clears it as active', async () => {
    const { a, pa } = await pairOfSides();
    a.ep.setActive(pa);
    const seen: string[] = [];
    a.ep.on('active-changed', ({ reason, to }) => seen.push(`${reason}:${to?.kind ?? 'none'}`));
    a.ep.on('path-closed', ({ reason }) => seen.push(`closed:${reason}`));
    pa.kill('transport died');
    expect(seen).toEqual(['closed:none', 'closed:transport died']);
    expect(a.ep.active).toBeNull();
    expect(a.ep.paths).toEqual([]);
  });

  it('rejects bad use with typed errors', async () => {
    const clock = new FakeClock();
    const a = await side(clock);
    const [p] = MemoryPath.pair();
    expect(() => a.ep.setActive(p)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    p.close();
    expect(() => a.ep.attach(p)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => new PeerEndpoint({ wireguardPort: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(() => new PeerEndpoint({ wireguardPort: 1, host: 'localhost' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    // 192.0.2.1 (TEST-NET-1) is not an address of this host: binding fails, typed, nothing left open.
    await expect(new PeerEndpoint({ wireguardPort: 1, host: '192.0.2.1' }).start()).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
    const early = new PeerEndpoint({ wireguardPort: 1 });
    const starting = early.start();
    early.stop();
    await expect(starting).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    expect(() => new PeerEndpoint({ wireguardPort: 1, trustWindowMs: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });

  it('stop() closes the socket, cancels every timer, detaches without closing, and silences everything', async () => {
    const { clock, a, b, pa, pb } = await pairOfSides();
    a.ep.setActive(pa);
    await clock.advance(2000);
    const events: string[] = [];
    a.ep.on('path-alive', () => events.push('alive'));
    a.ep.on('path-silent', () => events.push('silent'));
    a.ep.on('active-changed', () => events.push('active'));
    const timersBefore = clock.pendingTimers();
    a.ep.stop();
    a.ep.stop();
    expect(clock.pendingTimers()).toBe(timersBefore - 2);
    expect(pa.closed).toBe(false);
    expect(pa.listenerCount('data')).toBe(0);
    expect(a.ep.paths).toEqual([]);
    expect(a.ep.active).toBeNull();
    await expect(a.ep.start()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    expect(() => a.ep.setActive(null)).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    expect(() => a.ep.attach(pa)).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    pb.send(wgMessage(4));
    await clock.advance(60_000);
    expect(events).toEqual([]);
    expect(b.ep.pathStatus(pb)!.alive).toBe(false); // the remote noticed: no more pongs
  });
});

describe('PeerEndpoint: crossed handshake initiations', () => {
  // Both WireGuards initiate at once (both configured at the same instant, each initiation held
  // until a path comes up). Without a tie-break each answers the other, forgets its own, drops the
  // other's answer, and the tunnel waits for WireGuard's 5 s retry.
  async function crossing() {
    const { clock, a, b, pa, pb } = await pairOfSides({ probeIntervalMs: 0 });
    a.wg.send(initiation(5), a.address);
    b.wg.send(initiation(9), b.address);
    await expect.poll(() => a.ep.stats.drops.noActivePath + b.ep.stats.drops.noActivePath, { timeout: 3000 }).toBe(2);
    a.ep.setActive(pa);
    b.ep.setActive(pb);
    await b.wg.waitFor(1);
    return { clock, a, b };
  }

  it('the lower sender index wins: the other side holds the crossing initiation and drops it once its own is answered', async () => {
    const { clock, a, b } = await crossing();
    expect(tags(b.wg.received)).toEqual(['1:5']); // B's own index is higher: it answers A
    expect(b.ep.stats.crossedInitiationsHeld).toBe(0);
    expect(a.ep.stats.crossedInitiationsHeld).toBe(1);
    b.wg.send(response(77, 5), b.address); // B's WireGuard answers A's initiation
    await a.wg.waitFor(1);
    expect(a.ep.stats.drops.crossedInitiation).toBe(1);
    await clock.advance(CROSSED_INITIATION_WAIT_MS * 2);
    b.wg.send(wgMessage(4, 'marker'), b.address); // anything released would have arrived first
    await a.wg.waitFor(2);
    expect(tags(a.wg.received)).toEqual(['2:77', '4']);
    expect(clock.pendingTimers()).toBe(2); // only the two verdict intervals
  });

  it('a held crossing initiation goes to WireGuard after the wait when ours is never answered', async () => {
    const { clock, a, b } = await crossing();
    await clock.advance(CROSSED_INITIATION_WAIT_MS - 1);
    b.wg.send(wgMessage(4, 'marker'), b.address);
    await a.wg.waitFor(1);
    expect(a.wg.received).toHaveLength(1); // the marker only
    await clock.advance(1);
    await a.wg.waitFor(2);
    expect(tags(a.wg.received)[1]).toBe('1:9');
    expect(a.ep.stats).toMatchObject({ crossedInitiationsHeld: 1, drops: { crossedInitiation: 0 } });
  });

  it('no crossing, no wait: a remote initiation goes straight to WireGuard when ours is gone', async () => {
    const { clock, a, pa, remote } = await sideWithRemote();
    a.ep.setActive(pa);
    remote.send(initiation(9)); // WireGuard has not initiated
    await a.wg.waitFor(1);
    a.wg.send(initiation(5), a.address);
    await expect.poll(() => a.ep.stats.fromWireguard.packets, { timeout: 3000 }).toBe(1);
    await clock.advance(5_000); // WireGuard has retried (or given up) by now
    remote.send(initiation(10));
    await a.wg.waitFor(2);
    a.wg.send(initiation(6), a.address);
    a.wg.send(response(8, 3), a.address); // answered another initiation: its own is forgotten
    await expect.poll(() => a.ep.stats.fromWireguard.packets, { timeout: 3000 }).toBe(3);
    remote.send(initiation(11));
    await a.wg.waitFor(3);
    a.wg.send(initiation(12), a.address);
    await expect.poll(() => a.ep.stats.fromWireguard.packets, { timeout: 3000 }).toBe(4);
    remote.send(response(20, 12)); // ours answered
    remote.send(initiation(13));
    await a.wg.waitFor(5);
    expect(tags(a.wg.received)).toEqual(['1:9', '1:10', '1:11', '2:20', '1:13']);
    expect(a.ep.stats.crossedInitiationsHeld).toBe(0);
  });

  it('a newer remote initiation replaces the held one (counted); stop() cancels the wait', async () => {
    const { clock, a, pa, remote } = await sideWithRemote();
    a.ep.setActive(pa);
    a.wg.send(initiation(5), a.address);
    await expect.poll(() => a.ep.stats.fromWireguard.packets, { timeout: 3000 }).toBe(1);
    remote.send(initiation(9));
    remote.send(initiation(8));
    await expect.poll(() => a.ep.stats.crossedInitiationsHeld, { timeout: 3000 }).toBe(2);
    expect(clock.pendingTimers()).toBe(2); // the verdict interval and one wait
    await clock.advance(CROSSED_INITIATION_WAIT_MS);
    await a.wg.waitFor(1);
    remote.send(initiation(10));
    await expect.poll(() => a.ep.stats.crossedInitiationsHeld, { timeout: 3000 }).toBe(3);
    a.ep.stop();
    expect(clock.pendingTimers()).toBe(0);
    await clock.advance(CROSSED_INITIATION_WAIT_MS);
    a.wg.socket.send(wgMessage(4), a.wg.port, '127.0.0.1'); // a marker to itself, after anything released
    await a.wg.waitFor(2);
    expect(tags(a.wg.received)).toEqual(['1:8', '4']);
    expect(a.ep.stats.drops.crossedInitiation).toBe(1); // 9, replaced by 8
  });

  it('an initiation WireGuard made just before answering a remote one is dropped: answering made it forget it', async () => {
    const { a, pa, remote, sent } = await sideWithRemote();
    a.ep.setActive(pa);
    remote.send(initiation(9)); // handed to WireGuard, which is still being configured …
    await a.wg.waitFor(1);
    a.wg.send(initiation(5), a.address); // … and initiates before it gets to the remote one
    a.wg.send(response(6, 9), a.address);
    await expect.poll(() => sent.length, { timeout: 3000 }).toBe(1);
    a.wg.send(wgMessage(4), a.address); // a marker: the initiation would have gone out before it
    await expect.poll(() => sent.length, { timeout: 3000 }).toBe(2);
    expect(tags(sent.map((data) => ({ data })))).toEqual(['2:6', '4']);
    expect(a.ep.stats.drops.forgottenInitiation).toBe(1);
  });

  it('that initiation goes out after ANSWER_WAIT_MS when WireGuard never answers (it rejected the remote one)', async () => {
    const { clock, a, pa, remote, sent } = await sideWithRemote();
    a.ep.setActive(pa);
    remote.send(initiation(9));
    await a.wg.waitFor(1);
    a.wg.send(initiation(5), a.address);
    a.wg.send(wgMessage(4), a.address); // a marker
    await expect.poll(() => sent.length, { timeout: 3000 }).toBe(1);
    await clock.advance(ANSWER_WAIT_MS - 1);
    a.wg.send(wgMessage(4), a.address);
    await expect.poll(() => sent.length, { timeout: 3000 }).toBe(2);
    await clock.advance(1);
    await expect.poll(() => sent.length, { timeout: 3000 }).toBe(3);
    expect(tags(sent.map((data) => ({ data })))).toEqual(['4', '4', '1:5']);
    expect(a.ep.stats.drops.forgottenInitiation).toBe(0);
    expect(clock.pendingTimers()).toBe(1); // the verdict interval
  });
});
