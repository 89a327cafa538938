import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rig, ROLES, type Role } from '../../src/rig.js';
import { expectWithin, record } from './helpers.js';

// §12: two relay servers in svc; peerA is configured with relay0 only, peerB with relay1 only, so
// they are homed on different servers and meet on the controller's (the larger key's) home relay,
// which the other side dials as a foreign relay. Peer↔peer UDP is blocked: the relays are the only path.

let rig: Rig;
let controller: Role;

beforeAll(async () => {
  rig = await Rig.ready('relay', { relays: 2, relayUrls: { peerA: [0], peerB: [1] } });
  controller = rig.keys.peerA.publicKey > rig.keys.peerB.publicKey ? 'peerA' : 'peerB';
});

afterAll(async () => {
  await rig?.destroy();
});

describe('§12 two relays', () => {
  it('A and B homed on different servers: both report their own home, the tunnel runs', async () => {
    expect((await rig.status('peerA')).self.relay.home).toBe(rig.relayUrl(0));
    expect((await rig.status('peerB')).self.relay.home).toBe(rig.relayUrl(1));
    for (const role of ROLES) await rig.waitStatusPath(role, 'relay', 10_000);
  });

  // KNOWN FAILURE (reported to the peer-conn / agent owners; NetBird's #4498): both sides only ever
  // meet on the controller's home relay. When the other peer cannot reach it, its relay open fails
  // (connection refused / reset) on every offer, the controller keeps answering from its own home,
  // and neither side tries the follower's home relay (which the controller can reach as a foreign
  // relay): both stay on path "none" for good. `it.fails` keeps it in CI; flip it to `it` once the
  // relay worker falls back to a relay both can reach.
  it.fails("the controller's relay becomes unreachable from the other peer: they meet on a relay both reach", async () => {
    const follower: Role = controller === 'peerA' ? 'peerB' : 'peerA';
    const nat = follower === 'peerA' ? 'natA' : 'natB';
    const meetPort = String(33080 + (controller === 'peerA' ? 0 : 1));
    const rule = [
      'FORWARD',
      '-d',
      rig.lab.addr.svc,
      '-p',
      'tcp',
      '--dport',
      meetPort,
      '-j',
      'REJECT',
      '--reject-with',
      'tcp-reset',
    ];
    try {
      const m = await rig.measure(
        async () => {
          // Every packet of the follower's live connection to that relay now gets a RST, and so does every redial.
          await rig.lab.execOk(nat, ['iptables', '-w', '10', '-I', ...rule]);
        },
        { recoverTimeoutMs: 60_000 },
      );
      expectWithin(m, { maxOutageMs: 45_000, maxOffers: 25, maxTeardowns: 8 }, () => rig.tail());
      record(`§12 two relays, controller's relay unreachable from ${follower}`, [m], { controller });
    } finally {
      await rig.lab.exec(nat, ['iptables', '-w', '10', '-D', ...rule]);
    }
  });
});
