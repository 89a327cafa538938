import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onceEvent, type PeerKey, silentLogger, systemClock } from '@mesh/core';
import type { PathKind, PeerConn } from '@mesh/peer-conn';
import { RelayServer } from '@mesh/relay-server';
import { SignalServer } from '@mesh/signal-server';
import type { WgDevice } from '@mesh/wg-control';
import { FakeWireGuard } from '@mesh/wg-control/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  type AgentConfig,
  collectStatus,
  minimalConfig,
  parseConfig,
  requestStatus,
  runAgent,
  runMinimalAgent,
} from '../src/index.js';
import { keyPair } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'mesh-agent-loop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** FakeWireGuard (a UDP stand-in speaking WireGuard's framing) as the full WgDevice the agent configures. */
function fakeDevice(wg: FakeWireGuard): WgDevice {
  return {
    name: wg.name,
    getPeer: (k: PeerKey | string) => wg.getPeer(k),
    upsertPeer: (c: Parameters<WgDevice['upsertPeer']>[0]) => wg.upsertPeer(c),
    removePeer: (k: PeerKey | string) => wg.removePeer(k),
    setPrivateKey: async () => {},
    setListenPort: async () => {},
  } as unknown as WgDevice;
}

async function until(peer: PeerConn, kind: PathKind, timeoutMs = 20_000): Promise<void> {
  if (peer.activePath === kind) return;
  await onceEvent(peer, 'path-changed', { timeoutMs, filter: (info: { to: PathKind }) => info.to === kind });
}

/**
 * A relay server, a signaling server and two configs (with a FakeWireGuard each) that name each
 * other. The servers listen at once unless `serversLater`: then `startServers()` does it.
 */
async function world(options: { serversLater?: boolean } = {}) {
  const relayPort = await freePort();
  const signalPort = await freePort();
  const relayUrl = `rel://127.0.0.1:${relayPort}`;
  const startServers = async () => {
    const relay = new RelayServer({ port: relayPort, exposedAddress: relayUrl, secret: 'lab-secret' });
    await relay.start();
    cleanups.push(() => relay.stop());
    const signal = new SignalServer({ port: signalPort });
    await signal.start();
    cleanups.push(() => signal.stop());
  };
  if (!options.serversLater) await startServers();
  const keys = [keyPair(), keyPair()];
  const sides: { config: AgentConfig; wg: FakeWireGuard }[] = [];
  for (const [i, self] of keys.entries()) {
    const wg = new FakeWireGuard({ clock: systemClock });
    await wg.start();
    cleanups.push(() => wg.stop());
    const config = parseConfig({
      privateKey: self.privateKey,
      interface: { name: `fake${i}`, address: `100.64.0.${i + 1}/24`, listenPort: wg.port },
      signal: { url: `ws://127.0.0.1:${signalPort}` },
      relay: { urls: [relayUrl], secret: 'lab-secret' },
      peers: [{ publicKey: keys[1 - i]!.publicKey, allowedIps: [`100.64.0.${2 - i}/32`] }],
      control: { socket: join(dir, `agent${i}-${relayPort}.sock`) },
      metrics: { listen: `127.0.0.1:${await freePort()}` },
    });
    sides.push({ config, wg });
  }
  return { relayUrl, sides, startServers };
}

const overrides = (wg: FakeWireGuard) => ({
  device: fakeDevice(wg),
  logger: silentLogger,
  ice: { hostAddresses: ['127.0.0.1'], discoverHostAddresses: false },
});

describe('on loopback: real relay server, signaling server and werift; a UDP stand-in for WireGuard', () => {
  it('runMinimalAgent: two agents connect over ICE direct (relay as standby) and stop cleanly', async () => {
    const { relayUrl, sides } = await world();
    const agents = [];
    for (const { config, wg } of sides) {
      const agent = await runMinimalAgent(minimalConfig(config), overrides(wg));
      cleanups.push(() => agent.stop());
      agents.push(agent);
    }
    await Promise.all(agents.map((a) => until(a.peers[0]!, 'ice-direct')));
    const [a, b] = sides;
    const status = await collectStatus(a!.config.publicKey, agents[0]!.relays, agents[0]!.peers);
    expect(status.self.relay).toEqual({ home: relayUrl, connected: true });
    expect(status.peers[0]).toMatchObject({ publicKey: b!.config.publicKey.base64, path: 'ice-direct' });
    expect(status.peers[0]!.iceSessionId).toMatch(/^[0-9a-f]{10}$/);
    expect(status.peers[0]!.counters.offersSent).toBeGreaterThanOrEqual(1);

    await Promise.all(agents.map((x) => x.stop()));
    await Promise.all(agents.map((x) => x.stop())); // idempotent
    expect(await a!.wg.getPeer(b!.config.publicKey)).toBeNull();
    expect(await b!.wg.getPeer(a!.config.publicKey)).toBeNull();
  });

  it('runAgent: control socket and metrics answer; stop removes the socket and closes the interface', async () => {
    const { sides } = await world();
    const [a, b] = sides;
    let ifaceClosed = 0;
    const agent = await runAgent(a!.config, {
      ...overrides(a!.wg),
      iface: { name: 'fake0', device: fakeDevice(a!.wg), owned: true, close: async () => void ifaceClosed++ },
    });
    cleanups.push(() => agent.stop());
    const other = await runMinimalAgent(minimalConfig(b!.config), overrides(b!.wg));
    cleanups.push(() => other.stop());
    await until(agent.core.peers[0]!, 'ice-direct');

    const status = await requestStatus(a!.config.control.socket);
    expect(status.peers.map((p) => p.path)).toEqual(['ice-direct']);
    const { host, port } = a!.config.metrics!;
    const metrics = await (await fetch(`http://${host}:${port}/metrics`)).text();
    expect(metrics).toContain(`mesh_peer_path{peer="${b!.config.publicKey.base64}",path="ice-direct"} 1`);
    expect((await fetch(`http://${host}:${port}/other`)).status).toBe(404);

    await agent.stop();
    await agent.stop();
    expect(ifaceClosed).toBe(1);
    expect(existsSync(a!.config.control.socket)).toBe(false);
    await expect(fetch(`http://${host}:${port}/metrics`)).rejects.toThrow();
  });

  it('runAgent: a start-up failure undoes what was started (interface closed, no socket)', async () => {
    const { sides } = await world();
    const [a] = sides;
    let ifaceClosed = 0;
    // The control socket path is taken by a directory: the control server cannot listen.
    const config = { ...a!.config, control: { socket: dir } };
    await expect(
      runAgent(config, {
        ...overrides(a!.wg),
        iface: { name: 'fake0', device: fakeDevice(a!.wg), owned: true, close: async () => void ifaceClosed++ },
      }),
    ).rejects.toMatchObject({ code: 'ERR_AGENT_CONTROL', message: expect.stringContaining('cannot listen on') });
    expect(ifaceClosed).toBe(1);
    expect(await a!.wg.getPeer(a!.config.peers[0]!.publicKey)).toBeNull();
  });

  it('starts while the relay and signaling servers are down, and connects once they are up', async () => {
    const { relayUrl, sides, startServers } = await world({ serversLater: true });
    const agents = [];
    for (const { config, wg } of sides) {
      const agent = await runMinimalAgent(minimalConfig(config), overrides(wg)); // resolves: nothing waits for a server
      cleanups.push(() => agent.stop());
      agents.push(agent);
    }
    expect(agents.map((a) => a.peers[0]!.activePath)).toEqual(['none', 'none']);
    await startServers();
    await Promise.all(agents.map((a) => until(a.peers[0]!, 'ice-direct', 30_000)));
    const relays = agents[0]!.relays!;
    if (!relays.ready) await onceEvent(relays, 'reconnected', { timeoutMs: 30_000 });
    expect(relays.homeInstanceUrl).toBe(relayUrl);
  });
});
