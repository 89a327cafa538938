import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RELAY_PORT, Rig, ROLES } from '../../src/rig.js';
import { expectWithin, record } from './helpers.js';

// Relayed A↔B, one shared rig: peer↔peer UDP is blocked at natA from the start (ICE cannot
// connect; svc — relay, STUN — stays reachable), so the relay is the only path and every relay
// fault is an outage the agents must repair. Each scenario starts from a tunnel that answers.

let rig: Rig;

beforeAll(async () => {
  rig = await Rig.ready('relay');
});

afterAll(async () => {
  await rig?.destroy();
});

/** Both agents on the relay path and the relay connected: the state every scenario starts from. */
async function relayed(): Promise<void> {
  for (const role of ROLES) await rig.waitStatusPath(role, 'relay', 60_000);
}

describe('relay path (UDP between the peers blocked)', () => {
  it('§15 stale relay entry: the server forgets A (its socket cut) while B still holds an entry for A', async () => {
    await relayed();
    const m = await rig.measure(async () => {
      await rig.relayFault(0, 'drop', { peer: rig.keys.peerA.publicKey });
    });
    expectWithin(m, { maxOutageMs: 20_000, maxOffers: 20, maxTeardowns: 6 }, () => rig.tail());
    record('§15 stale relay entry: session dropped, socket cut', [m]);
  });

  it('§15 stale relay entry: natA conntrack flush + public IP swap while relayed', async () => {
    await relayed();
    const m = await rig.measure(async () => {
      await rig.lab.rotatePublicIp('natA');
      await rig.lab.conntrackFlush('natA');
    });
    expectWithin(m, { maxOutageMs: 30_000, maxOffers: 20, maxTeardowns: 6 }, () => rig.tail());
    record('§15 stale relay entry: IP swap + conntrack flush', [m]);
  });

  it('§1 silent relay stall: the pair is stalled while health checks pass → detected, recovers when it ends', async () => {
    await relayed();
    const pair = { a: rig.keys.peerA.publicKey, b: rig.keys.peerB.publicKey };
    const marks = { peerA: rig.mark('peerA'), peerB: rig.mark('peerB') };
    let detectedMs = Number.NaN;
    const m = await rig.measure(
      async () => {
        const t = Date.now();
        await rig.relayFault(0, 'stall', pair);
        // Evidence that the agent no longer trusts the relay path: it leaves "relay" or marks the entry stale.
        await rig.agents.peerA.proc.waitForLine(
          (l) =>
            (l.includes('"event":"path-changed"') && l.includes('"from":"relay"')) ||
            l.includes('"event":"stale-marked"'),
          { after: marks.peerA, timeoutMs: 30_000 },
        );
        detectedMs = Date.now() - t;
        await rig.relayFault(0, 'unstall', pair);
      },
      { recoverTimeoutMs: 60_000 },
    );
    expect(detectedMs, rig.tail()).toBeLessThanOrEqual(15_000);
    expectWithin(m, { maxOutageMs: 45_000, maxOffers: 25, maxTeardowns: 8 }, () => rig.tail());
    record('§1 silent relay stall (pair stalled, pings pass)', [m], { detectedMs });
  });

  it('§11 relay restart: SIGTERM, back after 5 s', async () => {
    await relayed();
    const m = await rig.measure(async () => {
      await rig.stopRelay(0, 'SIGTERM');
      await hold(5_000);
      await rig.startRelay(0);
    });
    expectWithin(m, { maxOutageMs: 30_000, maxOffers: 40, maxTeardowns: 6 }, () => rig.tail());
    record('§11 relay restart (SIGTERM, 5 s down)', [m]);
  });

  it('§11 relay crash: SIGKILL, back after 5 s', async () => {
    await relayed();
    const m = await rig.measure(async () => {
      await rig.stopRelay(0, 'SIGKILL');
      await hold(5_000);
      await rig.startRelay(0);
    });
    expectWithin(m, { maxOutageMs: 30_000, maxOffers: 40, maxTeardowns: 6 }, () => rig.tail());
    record('§11 relay crash (SIGKILL, 5 s down)', [m]);
  });

  it('§11 relay crash behind a half-open WebSocket: FIN/RST from the relay never arrive', async () => {
    await relayed();
    // The relay host vanishes as far as the clients' old connections go: its FIN and RST packets are
    // dropped, so each client's socket stays half-open and only a health check / path probe can tell.
    const rules = [
      ['OUTPUT', '-p', 'tcp', '--sport', String(RELAY_PORT), '--tcp-flags', 'FIN', 'FIN', '-j', 'DROP'],
      ['OUTPUT', '-p', 'tcp', '--sport', String(RELAY_PORT), '--tcp-flags', 'RST', 'RST', '-j', 'DROP'],
    ];
    try {
      for (const r of rules) await rig.lab.execOk('svc', ['iptables', '-w', '10', '-I', ...r]);
      const m = await rig.measure(
        async () => {
          await rig.stopRelay(0, 'SIGKILL');
          await rig.startRelay(0);
        },
        { recoverTimeoutMs: 120_000 },
      );
      expectWithin(m, { maxOutageMs: 90_000, maxOffers: 60, maxTeardowns: 8 }, () => rig.tail());
      record('§11 relay crash, half-open WebSocket', [m]);
    } finally {
      for (const r of rules) await rig.lab.exec('svc', ['iptables', '-w', '10', '-D', ...r]);
    }
  });
  // The server forgets A but keeps its socket and keeps answering health checks. A's path goes
  // silent, PeerConn marks the entry stale and reopens it; the reopened conn never carries a byte, so
  // PeerConn has the relay manager log in again (RelayManager.reconnect). Last in the file: it leaves
  // the relay broken.
  it('§15 stale relay entry: the server forgets A but keeps its socket (health checks still pass)', async () => {
    await relayed();
    const m = await rig.measure(
      async () => {
        await rig.relayFault(0, 'drop', { peer: rig.keys.peerA.publicKey, keepSocket: '1' });
      },
      { recoverTimeoutMs: 60_000 },
    );
    expectWithin(m, { maxOutageMs: 60_000, maxOffers: 25, maxTeardowns: 8 }, () => rig.tail());
    record('§15 stale relay entry: session dropped, socket kept', [m]);
  });
});

/** A fault's duration (not a wait for something to happen): the relay stays down this long. */
const hold = (ms: number) => delay(ms);
