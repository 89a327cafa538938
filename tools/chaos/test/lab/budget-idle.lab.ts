import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'vitest';
import { recordResult } from '../../src/report.js';
import { OVERLAY, Rig, type RigOptions, ROLES, type Role, waitProbes } from '../../src/rig.js';

// The two long scenarios, at the field's full length (10 min each). Both are almost only waiting,
// so they run at the same time, each in its own lab (own namespaces, own agents, relay and NATs),
// instead of adding 20 min to the suite; the timing-sensitive outage scenarios in the other files
// still run alone, one file after the other. Each test keeps its own assertions and table row.

/** Covers rig setup, the 10 min scenario and the relay's return (§7: up to 2 min). */
const TEST_TIMEOUT_MS = 15 * 60_000;

/** MESH_CHAOS_LOGS gets one sub-folder per rig, or the two rigs would write the same files. */
const logDir = (name: string): Pick<RigOptions, 'logDir'> =>
  process.env.MESH_CHAOS_LOGS ? { logDir: join(process.env.MESH_CHAOS_LOGS, name) } : {};

/** Resolves when `ms` have passed since `since` (Date.now() time); at once if they already have. */
const until = (since: number, ms: number) => delay(Math.max(0, since + ms - Date.now()));

// §7 control-traffic budget: direct is impossible (peer↔peer UDP blocked at natA) and the only
// relay is down for 10 min (the field recipe's length). Nothing can work, so everything the agents
// send is retry traffic: it must stay under a fixed budget per peer, with RSS flat and CPU low, and
// the tunnel must come back by itself when the relay returns. The rate is measured after a 30 s
// warm-up (the retry ladder climbing to its 30–45 s cap) until the relay returns.
const RELAY_DOWN_MS = 600_000;
const WARMUP_MS = 30_000;
/** RSS and packet counters are sampled this often during the window (the table's per-minute series). */
const SAMPLE_MS = 60_000;
/** packets/s a peer may send while nothing can work (field ask: ≤ 1 packet / 2 s once settled; measured ~1.7, see README). */
const BUDGET_PPS = 3;
/** RSS may wobble (GC, buffers), not grow with time: the bound is on every sample, not only the last. */
const MAX_RSS_GROWTH_KIB = 16 * 1024;
const NAT: Record<Role, 'natA' | 'natB'> = { peerA: 'natA', peerB: 'natB' };

// §26 idle NAT mapping expiry: both NATs forget idle UDP flows after 20 s (30 s once both ways
// were seen), much shorter than WireGuard's 25 s keepalive. The tunnel idles 10 min (the field
// reports' "idle 10 min"; 20–30 NAT timeouts), no traffic from the test, then only the far side
// sends: its first packet must get through.
const IDLE_MS = 600_000;

describe.concurrent('long quiet scenarios (run side by side)', () => {
  it(
    '§7 relay down 10 min + direct impossible: < 3 packets/s per peer, RSS flat, CPU low; recovers when the relay returns',
    async ({ expect }) => {
      const rig = await Rig.ready('relay', logDir('budget'));
      try {
        const sent = {} as Record<Role, () => Promise<number>>;
        for (const role of ROLES) sent[role] = await rig.countForwarded(NAT[role], rig.lab.addr[role]);
        const sample = async () => {
          const out = {} as Record<Role, { at: number; packets: number; rssKiB: number; cpuTicks: number }>;
          for (const role of ROLES) {
            const s = await rig.procStats(role, rig.agents[role].proc.pid);
            out[role] = { at: Date.now(), packets: await sent[role](), ...s };
          }
          return out;
        };

        const down = Date.now();
        await rig.stopRelay(0, 'SIGKILL');
        await until(down, WARMUP_MS); // let the failure be noticed and the retry ladder climb
        const c0 = await rig.counters();
        const samples = [await sample()];
        // Bounded: one sample a minute until the relay has been down RELAY_DOWN_MS.
        for (let i = 0; i < RELAY_DOWN_MS / SAMPLE_MS && Date.now() < down + RELAY_DOWN_MS; i++) {
          await delay(Math.min(SAMPLE_MS, down + RELAY_DOWN_MS - Date.now()));
          samples.push(await sample());
        }
        const c1 = await rig.counters();
        const first = samples[0]!;
        const last = samples[samples.length - 1]!;
        const per: Record<string, unknown> = {};
        for (const role of ROLES) {
          const secs = (last[role].at - first[role].at) / 1000;
          const pps = (last[role].packets - first[role].packets) / secs;
          const cpuPct = (last[role].cpuTicks - first[role].cpuTicks) / secs; // 100 ticks/s = 100 %
          const rss = samples.map((s) => s[role].rssKiB);
          const maxRssGrowthKiB = Math.max(...rss) - rss[0]!;
          // Per-minute rates show the ladder is settled, not merely averaged down.
          const ppsPerMin = samples
            .slice(1)
            .map(
              (s, i) =>
                Math.round(
                  ((s[role].packets - samples[i]![role].packets) / ((s[role].at - samples[i]![role].at) / 1000)) * 100,
                ) / 100,
            );
          per[role] = {
            windowSec: Math.round(secs),
            pps: Math.round(pps * 100) / 100,
            ppsPerMin,
            rssStartKiB: rss[0],
            rssEndKiB: rss[rss.length - 1],
            maxRssGrowthKiB,
            cpuPct: Math.round(cpuPct * 10) / 10,
          };
          expect(secs, `${role} observation window`).toBeGreaterThanOrEqual((RELAY_DOWN_MS - WARMUP_MS) / 1000 - 5);
          expect(pps, `${role} packets/s while nothing can work: ${JSON.stringify(per[role])}`).toBeLessThan(
            BUDGET_PPS,
          );
          expect(maxRssGrowthKiB, `${role} RSS growth over ${secs} s: ${rss.join(', ')} KiB`).toBeLessThan(
            MAX_RSS_GROWTH_KIB,
          );
          expect(cpuPct, `${role} CPU %`).toBeLessThan(5);
        }
        const windowSec = (last.peerA.at - first.peerA.at) / 1000;
        const offersPerMin = ((c1.offersSent - c0.offersSent) / windowSec) * 60;

        // Relay back: the tunnel must return by itself.
        const downForMs = Date.now() - down;
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
          scenario: `§7 budget: relay down ${Math.round(downForMs / 60_000)} min + no direct (relay back → tunnel)`,
          outagesMs: [backMs],
          offers: c1.offersSent - c0.offersSent,
          teardowns: c1.relayTeardowns - c0.relayTeardowns,
          extra: { relayDownMs: downForMs, windowSec, per, offersPerMin, target: OVERLAY.peerB },
        });
      } finally {
        await rig.destroy();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    '§26 short NAT UDP timeouts: after 10 min idle, the far side sends first and is answered at once; paths stayed up',
    async ({ expect }) => {
      const rig = await Rig.ready('ice-direct', logDir('idle'), async (r) => {
        for (const nat of ['natA', 'natB']) {
          await r.lab.execOk(nat, [
            'sysctl',
            '-qw',
            'net.netfilter.nf_conntrack_udp_timeout=20',
            'net.netfilter.nf_conntrack_udp_timeout_stream=30',
          ]);
        }
      });
      try {
        const before = await rig.counters();
        const pathsBefore = await Promise.all(ROLES.map(async (r) => (await rig.status(r)).peers[0]?.path));
        await delay(IDLE_MS); // the idle period itself
        const t = Date.now();
        const mon = rig.monitor(100, 'peerB');
        let firstReplyMs: number;
        try {
          firstReplyMs = (await waitProbes(mon, 10, 0, 60_000)) - t;
        } finally {
          await mon.stop();
        }
        const after = await rig.counters();
        const pathsAfter = await Promise.all(ROLES.map(async (r) => (await rig.status(r)).peers[0]?.path));
        expect(firstReplyMs, rig.tail()).toBeLessThanOrEqual(2_000);
        expect(pathsBefore).toEqual(['ice-direct', 'ice-direct']);
        expect(pathsAfter).toEqual(['ice-direct', 'ice-direct']);
        // Keeping mappings alive is the keepalives' job, not re-negotiation's.
        expect(after.offersSent - before.offersSent).toBeLessThanOrEqual(2);
        recordResult({
          scenario: `§26 short NAT UDP timeouts, ${IDLE_MS / 60_000} min idle, far side first`,
          outagesMs: [firstReplyMs],
          offers: after.offersSent - before.offersSent,
          teardowns: after.relayTeardowns - before.relayTeardowns,
          extra: { idleMs: IDLE_MS, natUdpTimeoutSec: 20 },
        });
      } finally {
        await rig.destroy();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
