import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rig, ROLES } from '../../src/rig.js';
import { expectWithin, record } from './helpers.js';

// §22 path flapping (and §33, the watchdog surviving it): peer↔peer UDP at natA is blocked and
// unblocked every 3 s for 3 minutes, then left alone; the agents must settle back on ICE direct
// without a loop, and their liveness detection must still work afterwards.

const FLAP_MS = 3_000;
const FLAP_FOR_MS = 180_000;
let rig: Rig;

beforeAll(async () => {
  rig = await Rig.ready('ice-direct');
});

afterAll(async () => {
  await rig?.destroy();
});

describe('§22 path flapping', () => {
  it('flaps every 3 s for 3 min, then settles on ice-direct; offers and tear-downs bounded', async () => {
    const flaps = FLAP_FOR_MS / FLAP_MS;
    let settledMs = Number.NaN;
    const m = await rig.measure(
      async () => {
        for (let i = 0; i < flaps; i++) {
          await rig.lab.blockUdp('natA', i % 2 === 0);
          await delay(FLAP_MS); // the flap period
        }
        await rig.lab.blockUdp('natA', false);
        const t = Date.now();
        for (const r of ROLES) await rig.waitStatusPath(r, 'ice-direct', 120_000);
        settledMs = Date.now() - t;
      },
      { recoverTimeoutMs: 60_000 },
    );
    expect(settledMs, rig.tail()).toBeLessThanOrEqual(120_000);
    // A loop shows up as offers far beyond one round per flap, or tear-downs on every flap.
    expect(m.delta.offersSent, JSON.stringify(m.delta)).toBeLessThanOrEqual(flaps * 3);
    expect(m.delta.relayTeardowns, JSON.stringify(m.delta)).toBeLessThanOrEqual(flaps);
    record(
      '§22 flapping 3 s × 3 min, then stable (stable → steady)',
      [m],
      { settledMs, flaps, outageDuringFlappingMs: m.outageMs },
      (x) => x.recoveredAfterFaultMs,
    );
  });

  it('§33 after the flapping, a silent break (A→B UDP dropped at natB) is still detected', async () => {
    const rule = ['FORWARD', '-p', 'udp', '-s', rig.lab.addr.natAWan, '-j', 'DROP'];
    try {
      const m = await rig.measure(async () => {
        const mark = rig.mark('peerA');
        await rig.lab.execOk('natB', ['iptables', '-w', '10', '-I', ...rule]);
        await rig.waitPath('peerA', ['relay', 'ice-turn'], { after: mark, timeoutMs: 30_000 });
      });
      expectWithin(m, { maxOutageMs: 15_000, maxOffers: 20, maxTeardowns: 4 }, () => rig.tail());
      record('§33 silent break after flapping', [m]);
    } finally {
      await rig.lab.exec('natB', ['iptables', '-w', '10', '-D', ...rule]);
    }
  });
});
