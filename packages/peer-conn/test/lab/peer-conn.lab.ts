import { afterEach, describe, expect, it } from 'vitest';
import { MeshLab, measureRecovery, type Trial, waitForProbes } from './mesh-lab.js';

// PeerConn on real components (issue 5 §3): wireguard-go, werift, the relay server CLI, coturn.
// Build first: `tools/with-node npx nx run-many -t build -p @mesh/peer-conn @mesh/relay-server @mesh/lab`.
// Bounds are generous on purpose (recovered within 30 s, tear-downs ≤ 2); the numbers are printed
// as JSON lines ({"scenario":...}) for the report, and bench/recovery.ts repeats them 10×.
// PEER_CONN_LAB_DEBUG=1 prints both agents' output when a test fails.

let ml: MeshLab | undefined;
afterEach(async (ctx) => {
  if (ml && process.env.PEER_CONN_LAB_DEBUG && ctx.task.result?.state === 'fail') {
    for (const agent of [ml.a, ml.b]) {
      console.log(`=== ${agent?.role}\n${agent?.proc.lines.join('\n')}\n${agent?.proc.stderrLines.join('\n')}`);
    }
  }
  await ml?.destroy();
  ml = undefined;
});

const ICE = new Set(['ice-direct', 'ice-turn']);
/** The duration of a fault or storm (the scenario's own clock, never a wait for something to happen). */
const holdFor = (ms: number) => new Promise((r) => setTimeout(r, ms));
const report = (t: Trial | Record<string, unknown>) => console.log(JSON.stringify(t));

/**
 * Both sides on ICE with the relay as warm standby. Either ICE kind: werift sometimes nominates the
 * TURN pair although the srflx pair works too (cone NATs), and the session then stays on ice-turn
 * (see the ice-direct test below and the report).
 */
async function upOnIce(m: MeshLab): Promise<void> {
  await m.until((s) => ICE.has(s.active) && s.standby.includes('relay'), 30_000, 'ICE with relay standby');
  await m.startMonitor();
}

async function upOnRelay(m: MeshLab): Promise<void> {
  await m.until((s) => s.active === 'relay', 30_000, 'relay active');
  await m.startMonitor();
}

describe('PeerConn in the lab (real wireguard-go, werift, relay server, coturn)', () => {
  it('a. comes up ice-direct behind two cone NATs, with the relay as warm standby', async () => {
    ml = await MeshLab.create();
    const t0 = Date.now();
    await upOnIce(ml);
    const [sa, sb] = await ml.statuses();
    expect([sa.active, sb.active]).toEqual(['ice-direct', 'ice-direct']);
    report({ scenario: 'a-ice-direct', upMs: Date.now() - t0, a: sa.counters, b: sb.counters });
    expect(sa.controller).not.toBe(sb.controller);
    expect(sa.relay.open && sb.relay.open).toBe(true);
    expect(sa.counters.relayTeardowns + sb.counters.relayTeardowns).toBe(0);
    expect(sa.lastHandshakeAt).toBeGreaterThan(0);
  });

  it('a. comes up on the relay alone when natA blocks all UDP and TURN/TCP', async () => {
    ml = await MeshLab.create({ relayOnly: true });
    const t0 = Date.now();
    await upOnRelay(ml);
    const [sa, sb] = await ml.statuses();
    report({ scenario: 'a-relay-only', upMs: Date.now() - t0, a: sa.counters, b: sb.counters });
    expect(ICE.has(sa.active) || ICE.has(sb.active)).toBe(false);
    expect(sa.counters.relayTeardowns + sb.counters.relayTeardowns).toBe(0);
    await waitForProbes(ml.monitor!, 10, 5_000);
  });

  it('b. relay path: natA public IP rotated + conntrack -F → recovered on the relay', async () => {
    ml = await MeshLab.create({ relayOnly: true });
    await upOnRelay(ml);
    const lab = ml.lab;
    const t = await measureRecovery(ml, 'b-relay-ip-rotation', async () => {
      await lab.rotatePublicIp('natA');
      await lab.conntrackFlush('natA');
    });
    report(t);
    expect(t.after).toEqual({ a: 'relay', b: 'relay' });
    expect(t.teardowns).toBeLessThanOrEqual(2);
  });

  it('c. ICE path: natA public IP rotated + conntrack -F → recovered, new ICE session on both sides', async () => {
    ml = await MeshLab.create();
    await upOnIce(ml);
    const lab = ml.lab;
    const [sa, sb] = await ml.statuses();
    const t = await measureRecovery(ml, 'c-ice-ip-rotation', async () => {
      await lab.rotatePublicIp('natA');
      await lab.conntrackFlush('natA');
    });
    const t1 = Date.now();
    const [sa1, sb1] = await ml.until((s) => ICE.has(s.active), 30_000, 'back on ICE');
    report({ ...t, backOnIceAfterMs: Date.now() - t1 + t.recoveredAfterMs, sessions: [sa1.ice, sb1.ice] });
    expect(sa1.ice.localSessionId).not.toBe(sa.ice.localSessionId);
    expect(sb1.ice.localSessionId).not.toBe(sb.ice.localSessionId);
    expect(t.sessionsRotated.a).toBeGreaterThanOrEqual(1);
    expect(t.sessionsRotated.b).toBeGreaterThanOrEqual(1);
    expect(t.teardowns).toBeLessThanOrEqual(2);
  });

  it("d. the relay server drops A's session silently (socket cut, B not told) while B keeps its entry → recovered", async () => {
    ml = await MeshLab.create({ relayOnly: true });
    await upOnRelay(ml);
    const m = ml;
    const t = await measureRecovery(m, 'd-relay-session-dropped', () => m.dropRelaySession('peerA'));
    report(t);
    expect(t.after).toEqual({ a: 'relay', b: 'relay' });
    expect(t.teardowns).toBeLessThanOrEqual(2);
    // A's entry died with its server connection (stale, reopened after the manager re-dialled);
    // B's entry was never told and needs no reopen: routing is by peer id, so it carries A's new
    // session as soon as A re-authenticates (observed: no stale mark and no reopen on B).
    expect(t.staleMarked.a.some((r) => r.includes('relay-disconnected'))).toBe(true);
  });

  // The server forgets A's session but keeps its socket and health checks: reopening the per-peer
  // entry cannot help. A's reopened conn never carries a byte (judged by the short probe window,
  // since the remote answers probes on other paths), so PeerConn has the manager log in again.
  it("d. variant: A's session blackholed with its socket kept (health checks still answered) → recovered", async () => {
    ml = await MeshLab.create({ relayOnly: true });
    await upOnRelay(ml);
    const m = ml;
    const [sa, sb] = await m.statuses();
    const t = await measureRecovery(m, 'd-relay-session-blackholed', () => m.dropRelaySession('peerA', true)).catch(
      (err: Error) => err,
    );
    if (t instanceof Error) {
      // Not recovered within 30 s: watch another 60 s to show what PeerConn keeps doing.
      await holdFor(60_000);
      const [sa1, sb1] = await m.statuses();
      const d = (k: 'relayTeardowns' | 'relayReopens' | 'offersSent', x: typeof sa, y: typeof sa) =>
        y.counters[k] - x.counters[k];
      report({
        scenario: 'd-relay-session-blackholed',
        recovered: false,
        afterMs: 90_000,
        inOutage: m.monitor!.inOutage,
        a: {
          teardowns: d('relayTeardowns', sa, sa1),
          reopens: d('relayReopens', sa, sa1),
          offers: d('offersSent', sa, sa1),
        },
        b: {
          teardowns: d('relayTeardowns', sb, sb1),
          reopens: d('relayReopens', sb, sb1),
          offers: d('offersSent', sb, sb1),
        },
        stale: {
          a: m.a.events('stale-marked').map((e) => e.reason),
          b: m.b.events('stale-marked').map((e) => e.reason),
        },
      });
      throw t;
    }
    report(t);
    expect(t.teardowns).toBeLessThanOrEqual(2);
  }, 180_000);

  it('e. relay server restart while on the relay → recovered', async () => {
    ml = await MeshLab.create({ relayOnly: true });
    await upOnRelay(ml);
    const m = ml;
    const t = await measureRecovery(m, 'e-relay-restart', () => m.restartRelay());
    report(t);
    expect(t.after).toEqual({ a: 'relay', b: 'relay' });
    expect(t.teardowns).toBeLessThanOrEqual(2);
  });

  it('f. UDP (and TURN/TCP) blocked for 60 s while on ICE → relay within seconds, back to ICE within 60 s of unblocking', async () => {
    ml = await MeshLab.create();
    await upOnIce(ml);
    const m = ml;
    const t = await measureRecovery(m, 'f-udp-blocked', () => m.relayOnly(true));
    expect(t.after).toEqual({ a: 'relay', b: 'relay' });
    // The fault lasts 60 s in all: this wait is the scenario's duration, not a wait for an event.
    await holdFor(Math.max(0, 60_000 - t.recoveredAfterMs - 2_000));
    const offersDuringBlock = (await ml.statuses()).map((s) => s.counters.offersSent);
    const mark = ml.monitor!.outages().length;
    await ml.relayOnly(false);
    const unblockedAt = Date.now();
    const back = await ml.until((s) => ICE.has(s.active), 60_000, 'back on ICE');
    const backMs = Date.now() - unblockedAt;
    const outagesOnReturn = ml.monitor!.outages().slice(mark);
    report({ ...t, backOnIceAfterMs: backMs, iceKind: back.map((s) => s.active), offersDuringBlock, outagesOnReturn });
    expect(backMs).toBeLessThan(60_000);
    expect(outagesOnReturn).toEqual([]);
    expect(t.teardowns).toBeLessThanOrEqual(2);
  }, 240_000);

  // With UDP alone blocked werift falls back to TURN over TCP (ice-turn); after unblocking, the
  // controller's TURN→direct retries must find the direct pair again (the same happens after a full
  // block: a session negotiated during it connects over TURN once it lifts).
  it('f. variant: on ice-turn (TURN/TCP) while UDP was blocked → back to ice-direct within 75 s of unblocking', async () => {
    ml = await MeshLab.create();
    await upOnIce(ml);
    const lab = ml.lab;
    await lab.blockUdp('natA', true, { all: true });
    await ml.until((s) => s.active === 'ice-turn', 90_000, 'ice-turn over TCP');
    await lab.blockUdp('natA', false, { all: true });
    const unblockedAt = Date.now();
    const end = await ml.until((s) => s.active === 'ice-direct', 75_000, 'back on ice-direct').catch(() => null);
    const now = (await ml.statuses()).map((s) => [s.active, s.counters.offersSent]);
    report({ scenario: 'f-stuck-on-turn', now, backOnDirectAfterMs: end ? Date.now() - unblockedAt : null });
    expect(end).not.toBeNull();
  }, 300_000);

  it('g. offer storm: both sides offer every 100 ms for 60 s on a healthy tunnel → no outage, zero tear-downs', async () => {
    ml = await MeshLab.create();
    await upOnIce(ml);
    const [sa, sb] = await ml.statuses();
    const before = ml.monitor!.outages().length;
    const a = ml.a;
    const b = ml.b;
    const storm = setInterval(() => {
      a.proc.send({ cmd: 'offer' });
      b.proc.send({ cmd: 'offer' });
    }, 100);
    try {
      await holdFor(60_000);
    } finally {
      clearInterval(storm);
    }
    await waitForProbes(ml.monitor!, 10, 5_000);
    const [sa1, sb1] = await ml.statuses();
    const d = (k: 'offersSent' | 'offersReceived' | 'relayTeardowns' | 'relayOpens') =>
      sa1.counters[k] - sa.counters[k] + sb1.counters[k] - sb.counters[k];
    const outages = ml.monitor!.outages().slice(before);
    report({
      scenario: 'g-offer-storm',
      offers: d('offersSent'),
      offersReceived: d('offersReceived'),
      teardowns: d('relayTeardowns'),
      relayOpens: d('relayOpens'),
      outages,
      after: [sa1.active, sb1.active],
    });
    expect(d('offersReceived')).toBeGreaterThan(600);
    expect(d('relayTeardowns')).toBe(0);
    expect(d('relayOpens')).toBe(0);
    expect(outages).toEqual([]);
    expect([sa1.active, sb1.active]).toEqual([sa.active, sb.active]);
  }, 180_000);
});
