import { fileURLToPath } from 'node:url';
import type { PeerKey } from '@mesh/core';
import { Lab, type LabProcess, type WireguardGoHandle } from '@mesh/lab';
import { generateKeyPair, type PeerEndpointStats, UapiDevice } from '../../src/index.js';

const AGENT = fileURLToPath(new URL('./fixtures/endpoint-agent.mjs', import.meta.url));
const WG_PORT = 51820;
const PATH_PORT_BASE = 40000;

export interface AgentStatus {
  stats: PeerEndpointStats;
  paths: Array<{
    name: string;
    alive: boolean | null;
    rttMs: number | null;
    probeCapable: boolean;
    counters: { txPackets: number; rxPackets: number };
  }>;
}

export interface Side {
  role: 'peerA' | 'peerB';
  wg: WireguardGoHandle;
  device: UapiDevice;
  keys: { privateKey: string; publicKey: PeerKey };
  tunnelIp: string;
  agent: LabProcess;
  /** The PeerEndpoint's port on 127.0.0.1 in this side's namespace. */
  endpointPort: number;
  /** Sends a command to the agent and resolves with its JSON reply. */
  request(cmd: string, extra?: Record<string, unknown>): Promise<Record<string, unknown>>;
  status(): Promise<AgentStatus>;
  /** Resolves with the next agent event of this kind (after `fromLine`) matching `filter`. */
  nextEvent(
    event: string,
    options?: { timeoutMs?: number; fromLine?: number; filter?: (e: Record<string, unknown>) => boolean },
  ): Promise<Record<string, unknown>>;
}

export interface EndpointTunnel {
  lab: Lab;
  a: Side;
  b: Side;
  pathNames: string[];
  /** WireGuard on both sides → its own PeerEndpoint (127.0.0.1:<port>), configured once. */
  configureViaEndpoints(keepalive?: number): Promise<void>;
  /** WireGuard on both sides → the other side's NAT (port-forwarded 51820): no Node on the path. */
  configureDirect(keepalive?: number): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * Two wireguard-go peers behind two cone NATs, each with a PeerEndpoint agent in its namespace and
 * `paths` UdpPaths between the agents (each through a port forward on both NATs). WireGuard peers
 * are not configured yet: start watchers first (their baseline must precede the configuration).
 */
export async function createEndpointTunnel(
  options: {
    paths?: number;
    probeIntervalMs?: number;
    trustWindowMs?: number;
    socketBufferBytes?: number;
    /** Make the first path active at start (default); false: none until `setActive`. */
    startActive?: boolean;
  } = {},
): Promise<EndpointTunnel> {
  const lab = await Lab.create({ natA: 'cone', natB: 'cone' });
  try {
    const pathNames = Array.from({ length: options.paths ?? 1 }, (_, i) => `udp${i}`);
    for (const nat of ['natA', 'natB'] as const) {
      await lab.portForward(nat, { wanPort: WG_PORT });
      for (let i = 0; i < pathNames.length; i++) await lab.portForward(nat, { wanPort: PATH_PORT_BASE + i });
    }
    const sides: Side[] = [];
    for (const [role, tunnelIp, remoteWan] of [
      ['peerA', '100.64.0.1', lab.addr.natBWan],
      ['peerB', '100.64.0.2', lab.addr.natAWan],
    ] as const) {
      const keys = generateKeyPair();
      const wg = await lab.startWireguardGo(role, {
        address: `${tunnelIp}/24`,
        listenPort: WG_PORT,
        privateKey: keys.privateKey,
      });
      const config = {
        wgPort: WG_PORT,
        probeIntervalMs: options.probeIntervalMs ?? 1000,
        trustWindowMs: options.trustWindowMs ?? 3000,
        socketBufferBytes: options.socketBufferBytes,
        active: options.startActive ?? true,
        paths: pathNames.map((name, i) => ({
          name,
          bindPort: PATH_PORT_BASE + i,
          remoteHost: remoteWan,
          remotePort: PATH_PORT_BASE + i,
        })),
      };
      const agent = lab.spawnNode(role, AGENT, [JSON.stringify(config)], { name: `endpoint-agent:${role}` });
      const ready = JSON.parse(await agent.waitForLine(/"event":"ready"/, { timeoutMs: 10_000 })) as { port: number };
      let nextId = 1;
      const nextEvent: Side['nextEvent'] = async (event, o = {}) => {
        const line = await agent.waitForLine(
          (l) => {
            if (!l.startsWith('{')) return false;
            const e = JSON.parse(l) as Record<string, unknown>;
            return e.event === event && (o.filter?.(e) ?? true);
          },
          { timeoutMs: o.timeoutMs ?? 10_000, after: o.fromLine ?? 0 },
        );
        return JSON.parse(line) as Record<string, unknown>;
      };
      const request: Side['request'] = (cmd, extra = {}) => {
        const id = nextId++;
        const from = agent.lines.length + agent.linesDropped;
        agent.send({ cmd, id, ...extra });
        return nextEvent(cmd === 'status' ? 'status' : 'active-set', { fromLine: from, filter: (e) => e.id === id });
      };
      sides.push({
        role,
        wg,
        device: new UapiDevice(wg.ifname),
        keys,
        tunnelIp,
        agent,
        endpointPort: ready.port,
        request,
        status: async () => (await request('status')) as unknown as AgentStatus,
        nextEvent,
      });
    }
    const [a, b] = sides as [Side, Side];
    const configure = async (endpointOf: (self: Side, other: Side) => string, keepalive: number) => {
      for (const [self, other] of [
        [a, b],
        [b, a],
      ] as const) {
        await self.device.upsertPeer({
          publicKey: other.keys.publicKey,
          endpoint: endpointOf(self, other),
          allowedIps: [`${other.tunnelIp}/32`],
          persistentKeepalive: keepalive,
        });
      }
    };
    return {
      lab,
      a,
      b,
      pathNames,
      configureViaEndpoints: (keepalive = 25) => configure((self) => `127.0.0.1:${self.endpointPort}`, keepalive),
      configureDirect: (keepalive = 25) =>
        configure((self) => `${self.role === 'peerA' ? lab.addr.natBWan : lab.addr.natAWan}:${WG_PORT}`, keepalive),
      destroy: () => lab.destroy(),
    };
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}
