import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordResult } from '../../src/report.js';
import { type OutageMeasure, Rig, ROLES } from '../../src/rig.js';
import { expectWithin, record } from './helpers.js';

// Agents start, crash and restart (cone NATs, ICE direct), one shared rig.

let rig: Rig;
let firstStart: { tunnelMs: number; offers: number };

beforeAll(async () => {
  // §16's first trial is the rig's own start: both agents spawned at the same instant.
  const t = Date.now();
  rig = await Rig.create({ start: 'simultaneous' });
  await rig.waitTunnel(30_000);
  firstStart = { tunnelMs: Date.now() - t, offers: (await rig.counters()).offersSent };
});

afterAll(async () => {
  await rig?.destroy();
});

describe('peer lifecycle', () => {
  it('§16 both agents started at the same instant: the tunnel forms within 2 offer rounds', async () => {
    const trials = [firstStart];
    for (let i = 0; i < 2; i++) {
      await Promise.all(ROLES.map((r) => rig.agents[r].proc.stop(5_000)));
      const t = Date.now();
      await Promise.all(ROLES.map((r) => rig.startAgent(r)));
      await rig.waitTunnel(30_000);
      trials.push({ tunnelMs: Date.now() - t, offers: (await rig.counters()).offersSent });
    }
    for (const tr of trials) {
      // WireGuard's first initiation is lost before any path is up; its retry comes 5 s later.
      expect(tr.tunnelMs, rig.tail()).toBeLessThanOrEqual(20_000);
      expect(tr.offers, `offers until the tunnel answered: ${JSON.stringify(trials)}`).toBeLessThanOrEqual(8);
    }
    for (const r of ROLES) await rig.waitStatusPath(r, 'ice-direct', 30_000);
    recordResult({
      scenario: '§16 simultaneous start (start → first ping)',
      outagesMs: trials.map((tr) => tr.tunnelMs),
      offers: trials.reduce((n, tr) => n + tr.offers, 0),
      teardowns: 0,
      extra: { trials },
    });
  });

  it('§13 remote agent killed (SIGKILL) and restarted with the same identity', async () => {
    for (const r of ROLES) await rig.waitStatusPath(r, 'ice-direct', 60_000);
    const trials: OutageMeasure[] = [];
    for (let i = 0; i < 2; i++) {
      const m = await rig.measure(async () => {
        await rig.crashAgent('peerB');
        await rig.startAgent('peerB');
      });
      expectWithin(m, { maxOutageMs: 30_000, maxOffers: 20, maxTeardowns: 4 }, () => rig.tail());
      trials.push(m);
    }
    record('§13 remote agent SIGKILL + restart, same keys', trials);
  });
});
