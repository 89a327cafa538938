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

  // The controller's home relay dies (and stays down): the controller has no home to meet on, so
  // both meet on the follower's home; when the relay is back they return to the controller's home.
  it("the controller's home relay is killed: they meet on the other peer's relay, and return when it is back", async () => {
    const follower: Role = controller === 'peerA' ? 'peerB' : 'peerA';
    const controllerRelay = controller === 'peerA' ? 0 : 1;
    const m = await rig.measure(() => rig.stopRelay(controllerRelay, 'SIGKILL'), { recoverTimeoutMs: 30_000 });
    expectWithin(m, { maxOutageMs: 15_000, maxOffers: 20, maxTeardowns: 6 }, () => rig.tail());
    record(`§12 two relays, the controller's relay killed (meet on ${follower}'s)`, [m], { controller });
    const marks = { controller: rig.mark(controller), follower: rig.mark(follower) };
    await rig.startRelay(controllerRelay);
    // Back home: the controller reconnects to its relay, and the follower meets it there again.
    const home = rig.relayUrl(controllerRelay);
    await rig.agents[controller].proc.waitForLine((l) => l.includes('"event":"home-connected"'), {
      after: marks.controller,
      timeoutMs: 60_000,
    });
    await rig.agents[follower].proc.waitForLine(
      (l) => l.includes('"event":"relay-opened"') && l.includes(`"server":"${home}"`),
      { after: marks.follower, timeoutMs: 30_000 },
    );
    await rig.waitTunnel();
    for (const role of ROLES) await rig.waitStatusPath(role, 'relay', 30_000);
  });

  // NetBird #4498: the follower cannot reach the controller's home relay (RST on every packet and
  // every redial). It marks that server unreachable, says so in its offers, and both sides meet on
  // the follower's home relay, which the controller dials as a foreign relay.
  it("the controller's relay becomes unreachable from the other peer: they meet on a relay both reach", async () => {
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
