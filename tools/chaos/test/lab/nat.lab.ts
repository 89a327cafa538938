import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Rig, ROLES } from '../../src/rig.js';
import { expectWithin, record } from './helpers.js';

// §6: NATs that defeat hole punching. Each test builds its own rig (different NATs).

let rig: Rig | undefined;

afterEach(async () => {
  await rig?.destroy();
  rig = undefined;
});

/** Offers both agents send over `ms` of a settled tunnel: a retry storm shows up here. */
async function offersOver(r: Rig, ms: number): Promise<number> {
  const before = await r.counters();
  await delay(ms); // the observation window
  return (await r.counters()).offersSent - before.offersSent;
}

describe('§6 hard NATs', () => {
  it('symmetric NAT on both sides: ICE through TURN (coturn), no retry storm, survives a NAT flush', async () => {
    const t = Date.now();
    rig = await Rig.create({ natA: 'symmetric', natB: 'symmetric', turn: true });
    const r = rig;
    await r.waitTunnel(30_000);
    const tunnelMs = Date.now() - t;
    for (const role of ROLES) await r.waitStatusPath(role, 'ice-turn', 60_000);
    const idleOffers = await offersOver(r, 60_000);
    // Measured 0 and 6 in two runs (both agents): ICE keeps probing for a better pair. A storm is hundreds.
    expect(idleOffers, 'offers per minute while settled on ice-turn').toBeLessThanOrEqual(12);
    const m = await r.measure(async () => {
      await r.lab.conntrackFlush('natA');
      await r.lab.conntrackFlush('natB');
    });
    expectWithin(m, { maxOutageMs: 30_000, maxOffers: 20, maxTeardowns: 4 }, () => r.tail());
    record('§6 symmetric NAT both sides (ice-turn), NAT flush', [m], { tunnelMs, idleOffersPerMin: idleOffers });
  });

  it('double NAT: natA behind a carrier NAT in inet (both masquerading), then the carrier NAT flushes', async () => {
    rig = await Rig.create({ start: 'none' });
    const r = rig;
    const ipt = (...a: string[]) => r.lab.execOk('inet', ['iptables', '-w', '10', ...a]);
    // inet masquerades natA's WAN subnet towards everything else (a CGN; its address differs per
    // outgoing interface, so the mapping is address-dependent) and drops unsolicited inbound UDP.
    await ipt('-t', 'nat', '-A', 'POSTROUTING', '-s', '203.0.113.0/24', '!', '-o', 'ethA', '-j', 'MASQUERADE');
    await ipt('-A', 'INPUT', '-p', 'udp', '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'DROP');
    const t = Date.now();
    for (const role of ROLES) await r.startAgent(role);
    await r.waitTunnel(30_000);
    const tunnelMs = Date.now() - t;
    const path = (await r.status('peerA')).peers[0]?.path;
    // Relayed or through TURN, ICE keeps trying in the background: bounded, not a storm.
    const offersPerMin = (await offersOver(r, 30_000)) * 2;
    expect(offersPerMin, 'offers per minute (both agents) while settled').toBeLessThanOrEqual(40);
    const m = await r.measure(async () => {
      await r.lab.execOk('inet', ['conntrack', '-F']);
    });
    expectWithin(m, { maxOutageMs: 30_000, maxOffers: 20, maxTeardowns: 4 }, () => r.tail());
    record('§6 double NAT (carrier NAT flush)', [m], { tunnelMs, path, offersPerMin });
  });
});
