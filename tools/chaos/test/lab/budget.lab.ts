import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordResult } from '../../src/report.js';
import { OVERLAY, Rig, ROLES, type Role, waitProbes } from '../../src/rig.js';

// §7 control-traffic budget: direct is impossible (peer↔peer UDP blocked at natA) and the only
// relay is down. Nothing can work, so everything the agents send is retry traffic: it must stay
// under a fixed budget per peer, with RSS flat and CPU low. The field recipe runs 10–30 min; the
// suite watches 2 min after a 30 s warm-up (scale factor 5 against 10 min): the retry ladder has
// reached its 30–45 s cap by then, so the rate measured is the steady one.

const WARMUP_MS = 30_000;
const WINDOW_MS = 120_000;
/** packets/s a peer may send while nothing can work (field ask: ≤ 1 packet / 2 s once settled; measured ~1.7, see README). */
const BUDGET_PPS = 3;
let rig: Rig;

const NAT: Record<Role, 'natA' | 'natB'> = { peerA: 'natA', peerB: 'natB' };
/** Packets each peer sent through its NAT so far. */
const sent = {} as Record<Role, () => Promise<number>>;

beforeAll(async () => {
  rig = await Rig.ready('relay');
  for (const role of ROLES) sent[role] = await rig.countForwarded(NAT[role], rig.lab.addr[role]);
});

afterAll(async () => {
  await rig?.destroy();
});

const procSample = (role: Role) => rig.procStats(role, rig.agents[role].proc.pid);

describe('§7 control traffic budget', () => {
  it('relay down + direct impossible: < 3 packets/s per peer, RSS flat, CPU low; recovers when the relay returns', async () => {
    await rig.stopRelay(0, 'SIGKILL');
    await delay(WARMUP_MS); // let the failure be noticed and the retry ladder climb
    const c0 = await rig.counters();
    const p0 = { peerA: await sent.peerA(), peerB: await sent.peerB() };
    const s0 = { peerA: await procSample('peerA'), peerB: await procSample('peerB') };
    const t0 = Date.now();
    await delay(WINDOW_MS); // the observation window
    const secs = (Date.now() - t0) / 1000;
    const c1 = await rig.counters();
    const per: Record<string, unknown> = {};
    for (const role of ROLES) {
      const pps = ((await sent[role]()) - p0[role]) / secs;
      const s1 = await procSample(role);
      const rssGrowthKiB = s1.rssKiB - s0[role].rssKiB;
      const cpuPct = (s1.cpuTicks - s0[role].cpuTicks) / secs; // 100 ticks/s = 100 %
      per[role] = {
        pps: Math.round(pps * 100) / 100,
        rssKiB: s1.rssKiB,
        rssGrowthKiB,
        cpuPct: Math.round(cpuPct * 10) / 10,
      };
      expect(pps, `${role} packets/s while nothing can work`).toBeLessThan(BUDGET_PPS);
      expect(rssGrowthKiB, `${role} RSS growth over ${secs} s`).toBeLessThan(16 * 1024);
      expect(cpuPct, `${role} CPU %`).toBeLessThan(5);
    }
    const offersPerMin = ((c1.offersSent - c0.offersSent) / secs) * 60;
    // Relay back: the tunnel must return by itself.
    await rig.startRelay(0);
    const t = Date.now();
    const mon = rig.monitor(200);
    let backMs: number;
    try {
      backMs = (await waitProbes(mon, 5, t, 120_000)) - t;
    } finally {
      await mon.stop();
    }
    expect(backMs, rig.tail()).toBeLessThanOrEqual(90_000);
    recordResult({
      scenario: `§7 budget: relay down + no direct, ${WINDOW_MS / 1000} s (relay back → tunnel)`,
      outagesMs: [backMs],
      offers: c1.offersSent - c0.offersSent,
      teardowns: c1.relayTeardowns - c0.relayTeardowns,
      extra: { windowSec: secs, per, offersPerMin, target: OVERLAY.peerB },
    });
  });
});
