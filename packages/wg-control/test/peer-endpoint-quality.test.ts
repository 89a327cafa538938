import { FakeClock, MemoryPath } from '@mesh/core';
import { seededRandom } from '@mesh/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { QUALITY_MIN_SAMPLES } from '../src/constants.js';
import type { PeerEndpoint, PeerEndpointEvents } from '../src/index.js';
import { pairOfSides, remotePath, runCleanups, side, sideWithRemote, transport, wgMessage } from './helpers.js';

afterEach(runCleanups);

type ProbeInfo = Parameters<PeerEndpointEvents['path-probe']>[0];

/** Makes `path` lose each datagram it sends with probability `loss` (seeded: reproducible). */
function lossy(path: MemoryPath, loss: number, seed: number): void {
  const random = seededRandom(seed);
  const send = path.send.bind(path);
  path.send = (d) => (random() < loss ? true : send(d));
}

/** A second MemoryPath pair between the two sides of pairOfSides. */
function secondPath(clock: FakeClock, a: PeerEndpoint, b: PeerEndpoint, kind: string) {
  const [pa, pb] = MemoryPath.pair(kind, () => clock.now());
  a.attach(pa);
  b.attach(pb);
  return { pa, pb };
}

describe('PeerEndpoint: path quality', () => {
  it('tells a path losing 30 % of pongs from a loss-free standby', async () => {
    const { clock, a, b, pa, pb } = await pairOfSides();
    lossy(pb, 0.3, 11); // B's pongs (and pings) on this path: 30 % lost
    const standby = secondPath(clock, a.ep, b.ep, 'standby');
    const probes = new Map<string, ProbeInfo[]>();
    a.ep.on('path-probe', (info) => {
      const list = probes.get(info.path.kind) ?? [];
      list.push(info);
      probes.set(info.path.kind, list);
    });
    await clock.advance(300_000);
    const direct = probes.get('memory')!;
    const lostShare = direct.filter((p) => !p.answered).length / direct.length;
    expect(direct.length).toBeGreaterThan(290); // one judged probe a second
    expect(lostShare).toBeGreaterThan(0.25);
    expect(lostShare).toBeLessThan(0.35);
    const estimates = direct.map((p) => p.lossPct).filter((l): l is number => l !== null);
    const mean = estimates.reduce((s, l) => s + l, 0) / estimates.length;
    expect(mean).toBeGreaterThan(25);
    expect(mean).toBeLessThan(35);
    expect(a.ep.pathStatus(pa)).toMatchObject({ probesInWindow: 10 });
    expect(a.ep.pathStatus(pa)!.lossPct).toBeGreaterThan(0);
    expect(a.ep.pathStatus(standby.pa)).toMatchObject({ lossPct: 0, probesInWindow: 10, srttMs: 0, rttMs: 0 });
    expect(probes.get('standby')!.every((p) => p.answered && p.rttMs === 0)).toBe(true);
  });

  it('has no loss estimate below QUALITY_MIN_SAMPLES judged probes', async () => {
    const { clock, a, pa } = await pairOfSides();
    const judged: ProbeInfo[] = [];
    a.ep.on('path-probe', (info) => judged.push(info));
    expect(a.ep.pathStatus(pa)).toMatchObject({ lossPct: null, srttMs: null, probesInWindow: 0 });
    while (judged.length < QUALITY_MIN_SAMPLES - 1) await clock.advance(1000);
    expect(judged.map((p) => p.lossPct)).toEqual(Array(QUALITY_MIN_SAMPLES - 1).fill(null));
    expect(a.ep.pathStatus(pa)).toMatchObject({ lossPct: null, probesInWindow: QUALITY_MIN_SAMPLES - 1 });
    await clock.advance(1000);
    expect(judged[QUALITY_MIN_SAMPLES - 1]).toMatchObject({ answered: true, lossPct: 0, srttMs: 0 });
  });

  it('emits path-probe once per judged probe: answered as the pong comes, lost after the timeout', async () => {
    const { clock, a, pa, pb } = await pairOfSides();
    const judged: string[] = [];
    a.ep.on('path-probe', ({ path, answered }) => judged.push(`${path.kind}:${answered ? 'answered' : 'lost'}`));
    await clock.advance(3000); // pings at attach (t 0) and t 1, 2, 3 s
    expect(judged).toEqual(Array(4).fill('memory:answered'));
    expect(a.ep.stats.probesSent).toBe(4);
    pb.setDeliver(false); // pongs stop coming back
    await clock.advance(3000); // pings at 4, 5, 6 s: the first is judged lost after 2 s, by 6.75 s
    expect(judged.slice(4)).toEqual([]);
    await clock.advance(750);
    expect(judged.slice(4)).toEqual(['memory:lost']);
    await clock.advance(2000);
    expect(judged.slice(4)).toEqual(['memory:lost', 'memory:lost', 'memory:lost']);
    expect(a.ep.pathStatus(pa)!.probesInWindow).toBe(7);
  });

  it('starts a fresh window when a path is attached again', async () => {
    const { clock, a, pa, pb } = await pairOfSides();
    pb.setDeliver(false);
    await clock.advance(10_000);
    expect(a.ep.pathStatus(pa)).toMatchObject({ lossPct: 100 });
    a.ep.detach(pa);
    pb.setDeliver(true);
    a.ep.attach(pa);
    expect(a.ep.pathStatus(pa)).toMatchObject({ lossPct: null, srttMs: null, rttMs: null, probesInWindow: 0 });
    await clock.advance(5000);
    expect(a.ep.pathStatus(pa)).toMatchObject({ lossPct: 0, probesInWindow: 6 });
  });

  it('judges nothing on a path whose remote never answered a probe (no PeerEndpoint there)', async () => {
    const clock = new FakeClock();
    const a = await side(clock);
    const { path } = remotePath(clock, a.ep); // nobody answers on the far end
    const judged: ProbeInfo[] = [];
    a.ep.on('path-probe', (info) => judged.push(info));
    await clock.advance(10_000);
    expect(judged).toEqual([]);
    expect(a.ep.pathStatus(path)).toMatchObject({ probeCapable: false, lossPct: null, probesInWindow: 0 });
  });

  it('a path-probe listener that stops the endpoint silences it at once', async () => {
    const { clock, a, pb } = await pairOfSides();
    pb.setDeliver(false);
    let calls = 0;
    a.ep.on('path-probe', () => {
      calls++;
      a.ep.stop();
    });
    await clock.advance(10_000);
    expect(calls).toBe(1);
  });
});

describe('PeerEndpoint: path-carrying', () => {
  it('is emitted once per activation, after WireGuard data went out and came in on the active path', async () => {
    const { clock, a, pa, remote, sent } = await sideWithRemote();
    const carrying: Array<{ kind: string; afterMs: number }> = [];
    a.ep.on('path-carrying', ({ path, afterMs }) => carrying.push({ kind: path.kind, afterMs }));
    a.ep.setActive(pa);
    await clock.advance(700);
    remote.send(transport(1)); // in first …
    await a.wg.waitFor(1);
    expect(carrying).toEqual([]);
    expect(a.ep.pathStatus(pa)!.carrying).toBe(false);
    await clock.advance(300);
    a.wg.send(wgMessage(4), a.address); // … then out
    await expect.poll(() => carrying.length, { timeout: 3000 }).toBe(1);
    expect(carrying).toEqual([{ kind: 'remote', afterMs: 1000 }]);
    expect(a.ep.pathStatus(pa)!.carrying).toBe(true);
    remote.send(transport(1));
    a.wg.send(wgMessage(4), a.address);
    await a.wg.waitFor(2);
    await expect.poll(() => sent.length, { timeout: 3000 }).toBe(2);
    expect(carrying).toHaveLength(1);
  });

  it('counts no probes, no traffic on another path, and no remote initiation (a restarted remote sends one)', async () => {
    const { clock, a, pa, remote, sent } = await sideWithRemote({ probeIntervalMs: 1000 });
    const other = remotePath(clock, a.ep, 'other');
    const carrying: string[] = [];
    a.ep.on('path-carrying', ({ path }) => carrying.push(path.kind));
    a.ep.setActive(pa);
    await clock.advance(5000); // pings out on both paths; a pong-like answer would be probe traffic too
    other.remote.send(transport(1)); // WireGuard data, but from a standby path
    a.wg.send(wgMessage(4), a.address); // out on the active path: our WireGuard on its (dead) old session
    remote.send(wgMessage(1)); // the restarted remote's initiation
    await a.wg.waitFor(2);
    await expect.poll(() => sent.filter((d) => d[0] === 4).length, { timeout: 3000 }).toBe(1);
    expect(carrying).toEqual([]);
    expect(a.ep.pathStatus(pa)!.carrying).toBe(false);
    remote.send(wgMessage(2, 'x'.repeat(88))); // a response: the remote's WireGuard has a session with ours
    await expect.poll(() => carrying, { timeout: 3000 }).toEqual(['remote']);
  });

  it('is re-armed each time a path becomes active, and only the active path is carrying', async () => {
    const { clock, a, pa, remote } = await sideWithRemote();
    const other = remotePath(clock, a.ep, 'other');
    const carrying: string[] = [];
    a.ep.on('path-carrying', ({ path }) => carrying.push(path.kind));
    const roundTrip = async (r: MemoryPath, count: number) => {
      a.wg.send(wgMessage(4), a.address);
      r.send(transport(1));
      await a.wg.waitFor(count);
      await expect.poll(() => a.ep.stats.fromWireguard.packets, { timeout: 3000 }).toBe(count);
    };
    a.ep.setActive(pa);
    await roundTrip(remote, 1);
    a.ep.setActive(other.path);
    expect(a.ep.pathStatus(pa)!.carrying).toBe(false);
    await roundTrip(other.remote, 2);
    a.ep.setActive(null);
    a.ep.setActive(other.path);
    await roundTrip(other.remote, 3);
    expect(carrying).toEqual(['remote', 'other', 'other']);
    expect(a.ep.pathStatus(other.path)!.carrying).toBe(true);
    expect(a.ep.pathStatus(pa)!.carrying).toBe(false);
  });
});

describe('PeerEndpoint: remote-path', () => {
  it('is emitted when the remote’s transport messages move to another path, once per move', async () => {
    const { clock, a, pa, remote } = await sideWithRemote();
    const other = remotePath(clock, a.ep, 'other');
    const moves: string[] = [];
    a.ep.on('remote-path', ({ path, from }) => moves.push(`${from?.kind ?? null}→${path.kind}`));
    a.ep.setActive(pa);
    expect(a.ep.remotePath).toBeNull();
    remote.send(wgMessage(1)); // an initiation says nothing about the remote's choice
    remote.send(transport(1));
    remote.send(transport(1));
    await a.wg.waitFor(3);
    other.remote.send(transport(1)); // the remote moved to the other path
    other.remote.send(transport(1));
    await a.wg.waitFor(5);
    expect(moves).toEqual(['null→remote', 'remote→other']);
    expect(a.ep.remotePath).toBe(other.path);
    a.ep.detach(other.path);
    expect(a.ep.remotePath).toBeNull();
  });
});
