import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordResult } from '../../src/report.js';
import { type OutageMeasure, Rig, ROLES } from '../../src/rig.js';
import { expectWithin, record } from './helpers.js';

// Agents start, crash and restart (cone NATs, ICE direct), one shared rig.

let rig: Rig;
let firstStart: StartTrial;

interface StartTrial {
  /** Both agents spawned → the first ping answered through the tunnel. */
  tunnelMs: number;
  /** Both agents have an active path (their first `path-changed`) → the first ping answered. */
  afterPathsMs: number;
  offers: number;
}

/** Waits for the tunnel after both agents were spawned at `t0`. */
async function startTrial(t0: number): Promise<StartTrial> {
  await rig.waitTunnel(30_000);
  const answeredAt = Date.now();
  const pathsUpAt = Math.max(...ROLES.map((r) => Date.parse(String(rig.events(r, 'path-changed')[0]?.ts))));
  return { tunnelMs: answeredAt - t0, afterPathsMs: answeredAt - pathsUpAt, offers: (await rig.counters()).offersSent };
}

beforeAll(async () => {
  // §16's first trial is the rig's own start: both agents spawned at the same instant.
  const t = Date.now();
  rig = await Rig.create({ start: 'simultaneous' });
  firstStart = await startTrial(t);
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
      trials.push(await startTrial(t));
    }
    for (const tr of trials) {
      // Both WireGuards initiate as they are configured, before any path: both initiations are held
      // and cross on the first path. Unresolved, each side drops the answer to its own and the ping
      // waits for WireGuard's 5 s retry (5.4–6.4 s from start); PeerEndpoint's tie-break answers one
      // at once. What remains from start is signaling (a lost first offer costs a guard step).
      expect(tr.afterPathsMs, `${JSON.stringify(trials)}\n${rig.tail()}`).toBeLessThanOrEqual(2_000);
      expect(tr.tunnelMs, rig.tail()).toBeLessThanOrEqual(10_000);
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
