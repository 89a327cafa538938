import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rig, ROLES } from '../../src/rig.js';
import { expectWithin, record } from './helpers.js';

// ICE direct A↔B behind two cone NATs, one shared rig. Each scenario starts with both agents on
// ice-direct and a tunnel that answers, and restores the network it changed.

let rig: Rig;

beforeAll(async () => {
  rig = await Rig.ready('ice-direct');
});

afterAll(async () => {
  await rig?.destroy();
});

async function direct(timeoutMs = 120_000): Promise<void> {
  for (const role of ROLES) await rig.waitStatusPath(role, 'ice-direct', timeoutMs);
}

const ipt = (ns: string, ...args: string[]) => rig.lab.execOk(ns, ['iptables', '-w', '10', ...args]);

describe('direct path (cone NATs, ICE direct)', () => {
  it('§1 one-way loss on the direct path: A→B UDP dropped at natB, the relay takes over', async () => {
    await direct();
    const rule = ['FORWARD', '-p', 'udp', '-s', rig.lab.addr.natAWan, '-j', 'DROP'];
    const markA = rig.mark('peerA');
    try {
      const m = await rig.measure(async () => {
        await ipt('natB', '-I', ...rule);
        await rig.waitPath('peerA', ['relay', 'ice-turn'], { after: markA, timeoutMs: 30_000 });
      });
      expectWithin(m, { maxOutageMs: 15_000, maxOffers: 20, maxTeardowns: 4 }, () => rig.tail());
      record('§1 one-way loss on the direct path', [m]);
    } finally {
      await rig.lab.exec('natB', ['iptables', '-w', '10', '-D', ...rule]);
    }
  });

  it('§4 relay → direct after UDP returns (blocked 60 s)', async () => {
    await direct();
    const markA = rig.mark('peerA');
    await rig.lab.blockUdp('natA', true);
    await rig.waitPath('peerA', 'relay', { after: markA, timeoutMs: 30_000 });
    // The fault's duration: long enough for the retry ladder to reach its 30–45 s cap.
    await delay(60_000);
    let backMs = Number.NaN;
    const m = await rig.measure(async () => {
      const t = Date.now();
      const markBack = rig.mark('peerA');
      await rig.lab.blockUdp('natA', false);
      await rig.waitPath('peerA', 'ice-direct', { after: markBack, timeoutMs: 120_000 });
      backMs = Date.now() - t;
    });
    // The switch relay → direct must not cost an outage of its own.
    expectWithin(m, { maxOutageMs: 2_000, maxOffers: 10, maxTeardowns: 2 }, () => rig.tail());
    expect(backMs, rig.tail()).toBeLessThanOrEqual(120_000);
    record('§4 relay → direct after UDP returns', [m], { backToDirectMs: backMs });
  });

  it('§5 public IP change, clean (MASQUERADE: kernel flushes the mappings)', async () => {
    await direct();
    const m = await rig.measure(async () => {
      await rig.lab.rotatePublicIp('natA');
    });
    expectWithin(m, { maxOutageMs: 30_000, maxOffers: 20, maxTeardowns: 4 }, () => rig.tail());
    record('§5 IP change, clean', [m]);
  });

  it('§5 public IP change, buggy router keeps the stale mapping (SNAT to the old address)', async () => {
    await direct();
    const { lab } = rig;
    const old = lab.addr.natAWan;
    const masq = ['POSTROUTING', '-o', 'wan0', '-j', 'MASQUERADE'];
    const snat = (to: string) => ['POSTROUTING', '-o', 'wan0', '-j', 'SNAT', '--to-source', to];
    const dropOld = [
      ['FORWARD', '-s', old, '-j', 'DROP'],
      ['FORWARD', '-d', old, '-j', 'DROP'],
    ];
    let next = old;
    try {
      // Set-up (not measured): natA becomes an SNAT router; its flows re-map under SNAT after a flush.
      await ipt('natA', '-t', 'nat', '-I', ...snat(old));
      await ipt('natA', '-t', 'nat', '-D', ...masq);
      await lab.conntrackFlush('natA');
      await rig.waitTunnel(60_000);
      await direct();
      const m = await rig.measure(
        async () => {
          // Re-dial: new WAN address; the router translates new flows to it but keeps every existing
          // flow on the old one (its entries survive, refreshed by keepalives), which the ISP drops.
          next = await lab.rotatePublicIp('natA');
          await ipt('natA', '-t', 'nat', '-I', ...snat(next));
          await ipt('natA', '-t', 'nat', '-D', ...snat(old));
          for (const r of dropOld) await ipt('inet', '-I', ...r);
          await lab.execOk('inet', ['ip', 'neigh', 'flush', 'all']);
        },
        { recoverTimeoutMs: 120_000 },
      );
      expectWithin(m, { maxOutageMs: 60_000, maxOffers: 25, maxTeardowns: 6 }, () => rig.tail());
      record('§5 IP change, stale mapping (buggy router)', [m]);
    } finally {
      for (const r of dropOld) await lab.exec('inet', ['iptables', '-w', '10', '-D', ...r]);
      await lab.exec('natA', ['iptables', '-w', '10', '-t', 'nat', '-D', ...snat(old)]);
      await lab.exec('natA', ['iptables', '-w', '10', '-t', 'nat', '-D', ...snat(next)]);
      await lab.exec('natA', ['iptables', '-w', '10', '-t', 'nat', '-A', ...masq]);
    }
  });
});
