import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rig, waitProbes } from '../../src/rig.js';
import { expectWithin, record } from './helpers.js';

// §2 laptop sleep: peerA's agent and its wireguard-go are frozen (SIGSTOP) for 2 minutes, natA
// loses every mapping while it sleeps (conntrack -F), then everything wakes (SIGCONT) at once.

const SLEEP_MS = 120_000;
let rig: Rig;

beforeAll(async () => {
  rig = await Rig.ready('ice-direct');
});

afterAll(async () => {
  await rig?.destroy();
});

const cpuTicks = async (pid: number) => (await rig.procStats('peerA', pid)).cpuTicks;

describe('sleep / resume', () => {
  it('§2 SIGSTOP 2 min + conntrack flush at natA, then SIGCONT: traffic again within 30 s, no CPU spin', async () => {
    const a = rig.agents.peerA;
    const wg = (await rig.lab.execOk('peerA', ['pgrep', '-f', `^wireguard-go -f ${a.ifname}$`])).stdout.trim();
    const m = await rig.measure(
      async () => {
        a.proc.pause();
        await rig.lab.execOk('peerA', ['kill', '-STOP', wg]);
        await delay(SLEEP_MS); // the sleep itself
        await rig.lab.conntrackFlush('natA');
        await rig.lab.execOk('peerA', ['kill', '-CONT', wg]);
        a.proc.resume();
      },
      { recoverTimeoutMs: 60_000 },
    );
    expect(m.recoveredAfterFaultMs, rig.tail()).toBeLessThanOrEqual(30_000);
    expectWithin(m, { maxOutageMs: SLEEP_MS + 30_000, maxOffers: 20, maxTeardowns: 4 }, () => rig.tail());
    // No CPU spin after wake: the agent's CPU over 10 s of steady tunnel.
    const t0 = await cpuTicks(a.proc.pid);
    const w0 = Date.now();
    await rig.waitTunnel();
    const mon = rig.monitor(100);
    try {
      await waitProbes(mon, 100, Date.now(), 30_000);
    } finally {
      await mon.stop();
    }
    const cpuPct = ((await cpuTicks(a.proc.pid)) - t0) / ((Date.now() - w0) / 1000); // 100 ticks/s = 100 %
    expect(cpuPct).toBeLessThan(25);
    record(
      '§2 sleep 2 min + NAT flush (after SIGCONT)',
      [m],
      { cpuPctAfterWake: cpuPct },
      (x) => x.recoveredAfterFaultMs,
    );
  });
});
