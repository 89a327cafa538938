import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentLab, OVERLAY, pathChangedTo, ROLES } from './agent-lab.js';

// The same two agents when no ICE path can exist: natA drops all UDP (STUN and TURN included) and
// TCP to coturn (werift's TURN-over-TCP fallback). Only the relay server is left; the agents must
// get there from their config files alone, with the relay secret minting tokens.

let al: AgentLab;

beforeAll(async () => {
  al = await AgentLab.create({ natA: 'cone', natB: 'cone' });
  await al.lab.blockUdp('natA', true, { all: true });
  await al.blockTurnTcp(true);
  await al.startAgents();
});

afterAll(async () => {
  await al?.destroy();
});

describe('mesh-agent in the lab, ICE impossible', () => {
  it('both agents come up on the relay; a ping passes; status says relay', async () => {
    await Promise.all(ROLES.map((r) => pathChangedTo(al.sides[r], 'relay')));
    await al.waitForTunnel('peerA');
    const ping = await al.lab.execOk('peerA', ['ping', '-c', '3', '-W', '2', OVERLAY.peerB]);
    expect(ping.stdout).toMatch(/3 received/);
    for (const role of ROLES) {
      const status = await al.status(role);
      expect(status.self.relay).toEqual({ home: al.relayUrl, connected: true });
      expect(status.peers[0]).toMatchObject({ path: 'relay', counters: { relayTeardowns: 0, relayReopens: 0 } });
      expect(status.peers[0].lastHandshakeAt).not.toBeNull();
    }
  });
});
