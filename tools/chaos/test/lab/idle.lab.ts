import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordResult } from '../../src/report.js';
import { Rig, ROLES, waitProbes } from '../../src/rig.js';

// §26 idle NAT mapping expiry: both NATs forget idle UDP flows after 20 s (30 s once both ways
// were seen), much shorter than WireGuard's 25 s keepalive. The tunnel idles (no traffic from the
// test), then only the far side sends: its first packet must get through.

/** Field reports say "idle 10 min"; 90 s is 4.5 NAT timeouts, which is what matters (scale factor ~6.7). */
const IDLE_MS = 90_000;
let rig: Rig;

beforeAll(async () => {
  rig = await Rig.ready('ice-direct', {}, async (r) => {
    for (const nat of ['natA', 'natB']) {
      await r.lab.execOk(nat, [
        'sysctl',
        '-qw',
        'net.netfilter.nf_conntrack_udp_timeout=20',
        'net.netfilter.nf_conntrack_udp_timeout_stream=30',
      ]);
    }
  });
});

afterAll(async () => {
  await rig?.destroy();
});

describe('§26 short NAT UDP timeouts', () => {
  it('after 90 s idle, the far side sends first and is answered at once; paths stayed up', async () => {
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
      scenario: '§26 short NAT UDP timeouts, 90 s idle, far side first',
      outagesMs: [firstReplyMs],
      offers: after.offersSent - before.offersSent,
      teardowns: after.relayTeardowns - before.relayTeardowns,
      extra: { idleMs: IDLE_MS, natUdpTimeoutSec: 20 },
    });
  });
});
