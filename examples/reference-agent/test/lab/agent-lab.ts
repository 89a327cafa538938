import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { onceEvent } from '@mesh/core';
import { type CoturnHandle, generateKeyPair, type KeyPair, Lab, type LabProcess, type NatKind } from '@mesh/lab';

// Everything real, from config files alone: in svc the relay server CLI (mesh-relay), the signaling
// server CLI (mesh-signal) and coturn; in peerA and peerB one `mesh-agent up --config FILE` each,
// which creates its own wireguard-go interface. Children run BUILT code: build first
// (`tools/with-node npx nx run-many -t build -p @mesh/reference-agent @mesh/relay-server @mesh/signal-server @mesh/lab`).

const require = createRequire(import.meta.url);
const pkgDir = (name: string) => dirname(require.resolve(`${name}/package.json`));
export const AGENT_CLI = join(pkgDir('@mesh/reference-agent'), 'dist/cli.js');
const RELAY_CLI = join(pkgDir('@mesh/relay-server'), 'dist/cli.js');
const SIGNAL_CLI = join(pkgDir('@mesh/signal-server'), 'dist/cli.js');

export const RELAY_PORT = 33080;
export const SIGNAL_PORT = 8443;
const SECRET = 'lab-relay-secret';
export const OVERLAY = { peerA: '100.64.0.1', peerB: '100.64.0.2' } as const;
export type Role = keyof typeof OVERLAY;
export const ROLES: readonly Role[] = ['peerA', 'peerB'];

export interface Side {
  role: Role;
  keys: KeyPair;
  ifname: string;
  configFile: string;
  controlSocket: string;
  proc: LabProcess;
  /** Wall ms when the agent was spawned. */
  startedAt: number;
}

export type LogEvent = Record<string, unknown>;

export function logEvents(proc: LabProcess, event: string): LogEvent[] {
  return proc.lines
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogEvent)
    .filter((e) => e.event === event);
}

/** Waits for the agent's log line `path-changed` to `to`. */
export function pathChangedTo(side: Side, to: string, timeoutMs = 30_000): Promise<string> {
  return side.proc.waitForLine((l) => l.includes('"event":"path-changed"') && l.includes(`"to":"${to}"`), {
    timeoutMs,
  });
}

/** A lab with the three services in svc, and two agents started from config files. */
export class AgentLab {
  readonly dir = mkdtempSync(join(tmpdir(), 'mesh-agent-lab-'));
  readonly sides = {} as Record<Role, Side>;

  private constructor(
    readonly lab: Lab,
    readonly turn: CoturnHandle,
  ) {}

  static async create(nat: { natA: NatKind; natB: NatKind }): Promise<AgentLab> {
    const lab = await Lab.create(nat);
    try {
      const svc = lab.addr.svc;
      const turn = await lab.startCoturn({ user: 'u', password: 'p' });
      const relayUrl = `rel://${svc}:${RELAY_PORT}`;
      const relayArgs = ['--listen', `${svc}:${RELAY_PORT}`, '--secret', SECRET, '--exposed-address', relayUrl];
      const relay = lab.spawnNode('svc', RELAY_CLI, relayArgs, { name: 'mesh-relay' });
      await relay.waitForLine(/"event":"relay-listening"/);
      const signal = lab.spawnNode('svc', SIGNAL_CLI, ['--listen', `${svc}:${SIGNAL_PORT}`], { name: 'mesh-signal' });
      await signal.waitForLine(/"event":"signal-listening"/);
      return new AgentLab(lab, turn);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  }

  get relayUrl(): string {
    return `rel://${this.lab.addr.svc}:${RELAY_PORT}`;
  }

  get signalUrl(): string {
    return `ws://${this.lab.addr.svc}:${SIGNAL_PORT}`;
  }

  /**
   * Writes both config files and starts both agents; resolves on both `agent-up`. peerA has its key
   * inline and metrics on 127.0.0.1:9101; peerB reads its key from a file next to its config.
   */
  async startAgents(): Promise<void> {
    const keys = { peerA: generateKeyPair(), peerB: generateKeyPair() };
    for (const role of ROLES) {
      const other: Role = role === 'peerA' ? 'peerB' : 'peerA';
      // Interface names are global to the shared UAPI socket directory: unique per run.
      const ifname = `ma${this.lab.runId}${role === 'peerA' ? 'a' : 'b'}`;
      const controlSocket = join(this.dir, `${role}.sock`);
      const config: Record<string, unknown> = {
        interface: { name: ifname, address: `${OVERLAY[role]}/24`, listenPort: 51820, mtu: 1280 },
        signal: { url: this.signalUrl },
        relay: { urls: [this.relayUrl], secret: SECRET },
        ice: {
          stun: [this.turn.stunUrl],
          turn: [{ url: this.turn.turnUrl, username: this.turn.user, password: this.turn.password }],
        },
        peers: [{ publicKey: keys[other].publicKey, allowedIps: [`${OVERLAY[other]}/32`] }],
        control: { socket: controlSocket },
      };
      if (role === 'peerA') {
        config.privateKey = keys[role].privateKey;
        config.metrics = { listen: '127.0.0.1:9101' };
      } else {
        writeFileSync(join(this.dir, 'peerB.key'), `${keys[role].privateKey}\n`);
        chmodSync(join(this.dir, 'peerB.key'), 0o600);
        config.privateKeyFile = 'peerB.key';
      }
      const configFile = join(this.dir, `${role}.json`);
      writeFileSync(configFile, JSON.stringify(config, null, 2));
      const startedAt = Date.now();
      const proc = this.lab.spawnNode(role, AGENT_CLI, ['up', '--config', configFile], { name: `mesh-agent:${role}` });
      this.sides[role] = { role, keys: keys[role], ifname, configFile, controlSocket, proc, startedAt };
    }
    await Promise.all(ROLES.map((r) => this.sides[r].proc.waitForLine(/"event":"agent-up"/, { timeoutMs: 20_000 })));
  }

  /**
   * Resolves on the first ping reply from `role` to the other side's overlay address. WireGuard's
   * first initiation leaves when PeerConn configures the peer, before any path is up, and is lost;
   * the retry comes 5 s later (REKEY_TIMEOUT): wait for the tunnel before asserting on pings.
   */
  async waitForTunnel(role: Role, timeoutMs = 15_000): Promise<void> {
    const target = role === 'peerA' ? OVERLAY.peerB : OVERLAY.peerA;
    const monitor = this.lab.startOutageMonitor(role, target, { intervalMs: 200 });
    try {
      await onceEvent(monitor, 'probe', { timeoutMs, filter: (p: { received: boolean }) => p.received });
    } finally {
      await monitor.stop();
    }
  }

  /** `mesh-agent ARGS` inside `role`'s namespace. */
  cli(role: Role, args: string[]) {
    return this.lab.exec(role, [process.execPath, AGENT_CLI, ...args], { timeoutMs: 15_000 });
  }

  /** `status --json` of `role`'s agent. */
  async status(role: Role) {
    const r = await this.cli(role, ['status', '--config', this.sides[role].configFile, '--json']);
    if (r.code !== 0) throw new Error(`status failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  /** Drops TCP to coturn at natA too: werift falls back to TURN over TCP when UDP is blocked. */
  async blockTurnTcp(on: boolean): Promise<void> {
    await this.lab.blockTurnTcp('natA', on);
  }

  async destroy(): Promise<void> {
    // MESH_LAB_DUMP=dir keeps each agent's log for a post-mortem.
    const dump = process.env.MESH_LAB_DUMP;
    if (dump)
      for (const s of Object.values(this.sides)) writeFileSync(join(dump, `${s.role}.log`), s.proc.lines.join('\n'));
    await this.lab.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
