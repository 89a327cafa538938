import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { onceEvent } from '@mesh/core';
import {
  type CoturnHandle,
  generateKeyPair,
  type KeyPair,
  Lab,
  type LabProcess,
  type NatKind,
  type OutageMonitor,
  type OutageReport,
} from '@mesh/lab';
import {
  type AgentStatus,
  ChaosError,
  COUNTER_NAMES,
  type PathName,
  type PeerCounters,
  requestAgentStatus,
} from './status.js';

const require = createRequire(import.meta.url);
const pkgDir = (name: string) => dirname(require.resolve(`${name}/package.json`));
/** The built CLIs: children run `dist/`, so build them first (nx does, through this package's deps). */
export const CLI = {
  agent: () => join(pkgDir('@mesh/reference-agent'), 'dist/cli.js'),
  relay: () => join(pkgDir('@mesh/relay-server'), 'dist/cli.js'),
  signal: () => join(pkgDir('@mesh/signal-server'), 'dist/cli.js'),
};

export type Role = 'peerA' | 'peerB';
export const ROLES: readonly Role[] = ['peerA', 'peerB'];
export const other = (r: Role): Role => (r === 'peerA' ? 'peerB' : 'peerA');
export const OVERLAY: Record<Role, string> = { peerA: '100.64.0.1', peerB: '100.64.0.2' };
export const SIGNAL_PORT = 8443;
/** Relay i listens on svc:RELAY_PORT+i, its fault-control HTTP on 127.0.0.1:FAULT_PORT+i (inside svc). */
export const RELAY_PORT = 33080;
export const FAULT_PORT = 33090;
export const RELAY_SECRET = 'chaos-relay-secret';

/** Agent `tuning` (reference-agent config); the defaults of the agent unless a scenario says otherwise. */
export type AgentTuning = Partial<{
  persistentKeepaliveSec: number;
  probeIntervalMs: number;
  trustWindowMs: number;
  firstHandshakeTimeoutMs: number;
  staleAfterMs: number;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
}>;

export interface RigOptions {
  natA?: NatKind;
  natB?: NatKind;
  /** peerA's uplinks: 2 adds natC and `rig.lab.roam('peerA', 2 | 1)` (the lab's `uplinks`). */
  uplinks?: 1 | 2;
  /** Number of relay servers in svc (1 or 2). */
  relays?: number;
  /** Which relays (indexes) each agent is configured with; default all of them, in order. */
  relayUrls?: Partial<Record<Role, number[]>>;
  /** coturn in svc as STUN (+ TURN when `turn`); default true. */
  stun?: boolean;
  turn?: boolean;
  tuning?: AgentTuning;
  /** How the agents start: one after the other (default), at the same instant, or not at all. */
  start?: 'sequential' | 'simultaneous' | 'none';
  /** Keep every agent's log and the relay logs here after destroy (also env MESH_CHAOS_LOGS). */
  logDir?: string;
}

export interface AgentHandle {
  role: Role;
  keys: KeyPair;
  ifname: string;
  configFile: string;
  controlSocket: string;
  proc: LabProcess;
  /** How many times this role's agent was started (restarts included). */
  starts: number;
}

export interface RelayHandle {
  index: number;
  url: string;
  faultPort: number;
  proc: LabProcess;
}

/** Sum of both agents' per-peer counters (each agent has exactly one peer). */
export type Counters = PeerCounters;

export interface OutageMeasure {
  /** Sum of outage durations seen by the in-tunnel ping after the fault began (ms). */
  outageMs: number;
  /** The longest single outage (ms). */
  maxOutageMs: number;
  outages: number;
  /** Time from the start of the fault to the first of `stableProbes` consecutive answered probes after it. */
  recoveredAfterMs: number;
  /** Same, measured from the end of the fault action (e.g. from SIGCONT after a sleep). */
  recoveredAfterFaultMs: number;
  /** Counter growth over the measurement (both agents summed). */
  delta: Counters;
  report: OutageReport;
}

export interface MeasureOptions {
  /** Ping interval through the tunnel (default 100 ms). */
  intervalMs?: number;
  /** Ping from this side to the other's overlay address (default peerA). */
  from?: Role;
  /** Give up waiting for recovery after this (default 120 s). */
  recoverTimeoutMs?: number;
  /** Consecutive answered probes that count as "recovered" (default 10). */
  stableProbes?: number;
  /** Answered probes to keep watching after recovery, to catch a relapse (default 30). */
  settleProbes?: number;
}

/**
 * One chaos scenario's world: the lab, in svc the relay server(s), the signaling server and coturn,
 * and one real `mesh-agent up --config FILE` in each of peerA and peerB. Everything it starts is
 * torn down by `destroy()` (also on a failed `create`).
 */
export class Rig {
  readonly agents = {} as Record<Role, AgentHandle>;
  readonly relays: RelayHandle[] = [];
  signal!: LabProcess;
  turn: CoturnHandle | undefined;
  readonly keys: Record<Role, KeyPair> = { peerA: generateKeyPair(), peerB: generateKeyPair() };
  readonly dir = mkdtempSync(join(tmpdir(), 'mesh-chaos-'));
  #ifSeq = 0;
  #destroyed = false;

  private constructor(
    readonly lab: Lab,
    readonly options: RigOptions,
  ) {}

  static async create(options: RigOptions = {}): Promise<Rig> {
    const lab = await Lab.create({
      natA: options.natA ?? 'cone',
      natB: options.natB ?? 'cone',
      ...(options.uplinks ? { uplinks: options.uplinks } : {}),
    });
    const rig = new Rig(lab, options);
    try {
      await rig.#startServices();
      for (const role of ROLES) rig.#writeConfig(role);
      const start = options.start ?? 'sequential';
      if (start === 'sequential') for (const role of ROLES) await rig.startAgent(role);
      if (start === 'simultaneous') await Promise.all(ROLES.map((role) => rig.startAgent(role)));
      return rig;
    } catch (err) {
      await rig.destroy();
      throw err;
    }
  }

  /**
   * A rig whose agents both report `path` and whose tunnel answers: what most scenarios start
   * from. For 'relay', peer↔peer UDP is blocked at natA first (ICE cannot connect; svc stays
   * reachable). `prepare` runs after the servers and before the agents (e.g. NAT sysctls).
   */
  static async ready(
    path: Exclude<PathName, 'none'>,
    options: Omit<RigOptions, 'start'> = {},
    prepare?: (rig: Rig) => Promise<void>,
  ): Promise<Rig> {
    const rig = await Rig.create({ ...options, start: 'none' });
    try {
      if (path === 'relay') await rig.lab.blockUdp('natA', true);
      await prepare?.(rig);
      for (const role of ROLES) await rig.startAgent(role);
      for (const role of ROLES) await rig.waitPath(role, path, { timeoutMs: 30_000 });
      await rig.waitTunnel();
      return rig;
    } catch (err) {
      await rig.destroy();
      throw err;
    }
  }

  async #startServices(): Promise<void> {
    const { options, lab } = this;
    if (options.stun !== false || options.turn) this.turn = await lab.startCoturn({ user: 'u', password: 'p' });
    for (let i = 0; i < (options.relays ?? 1); i++) await this.startRelay(i);
    this.signal = lab.spawnNode('svc', CLI.signal(), ['--listen', `${lab.addr.svc}:${SIGNAL_PORT}`], {
      name: 'mesh-signal',
    });
    await this.signal.waitForLine(/"event":"signal-listening"/);
  }

  relayUrl(index: number): string {
    return `rel://${this.lab.addr.svc}:${RELAY_PORT + index}`;
  }

  /** Starts (or restarts after `stopRelay`) relay `index`; resolves when it listens. */
  async startRelay(index: number): Promise<RelayHandle> {
    const url = this.relayUrl(index);
    const faultPort = FAULT_PORT + index;
    const listen = `${this.lab.addr.svc}:${RELAY_PORT + index}`;
    const proc = this.lab.spawnNode(
      'svc',
      CLI.relay(),
      [
        '--listen',
        listen,
        '--secret',
        RELAY_SECRET,
        '--exposed-address',
        url,
        '--fault-control',
        `127.0.0.1:${faultPort}`,
      ],
      { name: `mesh-relay${index}` },
    );
    await proc.waitForLine(/"event":"relay-fault-control"/, { timeoutMs: 15_000 });
    const handle = { index, url, faultPort, proc };
    this.relays[index] = handle;
    return handle;
  }

  /** Stops relay `index`: SIGTERM (graceful: close message to every peer) or SIGKILL (state lost, sockets reset). */
  async stopRelay(index: number, how: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const relay = this.relays[index];
    if (!relay) return;
    if (how === 'SIGKILL') relay.proc.kill('SIGKILL');
    await relay.proc.stop(5_000);
  }

  /** The relay's fault switch (relay-server README, "Fault injection"): `stall`/`unstall` a pair, `drop` a peer's session. */
  async relayFault(index: number, op: 'stall' | 'unstall' | 'drop' | 'reset', args: Record<string, string> = {}) {
    const relay = this.relays[index];
    if (!relay) throw new ChaosError('ERR_CHAOS_RELAY', `no relay ${index}`);
    const query = new URLSearchParams(args).toString();
    const url = `http://127.0.0.1:${relay.faultPort}/${op}${query ? `?${query}` : ''}`;
    const r = await this.lab.exec('svc', ['curl', '-sS', '-X', 'POST', url], { timeoutMs: 5_000 });
    if (r.code !== 0 || !r.stdout.includes('"ok":true')) {
      throw new ChaosError('ERR_CHAOS_RELAY', `relay fault ${op} failed: ${r.stdout}${r.stderr}`);
    }
    return JSON.parse(r.stdout) as { ok: true; result: unknown };
  }

  #writeConfig(role: Role): void {
    const peer = other(role);
    const written = this.writeAgentConfig({
      name: role,
      ifname: `mc${this.lab.runId}${role === 'peerA' ? 'a' : 'b'}`,
      privateKey: this.keys[role].privateKey,
      address: `${OVERLAY[role]}/24`,
      peers: [{ publicKey: this.keys[peer].publicKey, allowedIps: [`${OVERLAY[peer]}/32`] }],
      relays: this.options.relayUrls?.[role] ?? this.relays.map((r) => r.index),
    });
    this.agents[role] = { role, keys: this.keys[role], ...written, proc: undefined!, starts: 0 };
  }

  /**
   * Writes a `mesh-agent` config file pointing at this rig's signal, relay(s) and coturn (the
   * reference-agent README documents every field); also used for agents beyond peerA/peerB.
   */
  writeAgentConfig(agent: {
    name: string;
    ifname: string;
    privateKey: string;
    address: string;
    peers: { publicKey: string; allowedIps: string[] }[];
    relays?: number[];
  }): { ifname: string; configFile: string; controlSocket: string } {
    const { lab, options } = this;
    const relayIdx = agent.relays ?? this.relays.map((r) => r.index);
    const ice: Record<string, unknown> = {};
    if (this.turn && options.stun !== false) ice.stun = [this.turn.stunUrl];
    if (this.turn && options.turn) {
      ice.turn = [{ url: this.turn.turnUrl, username: this.turn.user, password: this.turn.password }];
    }
    const controlSocket = join(this.dir, `${agent.name}.sock`);
    const config = {
      privateKey: agent.privateKey,
      interface: { name: agent.ifname, address: agent.address, listenPort: 51820 + this.#ifSeq++, mtu: 1280 },
      signal: { url: `ws://${lab.addr.svc}:${SIGNAL_PORT}` },
      ...(relayIdx.length > 0 ? { relay: { urls: relayIdx.map((i) => this.relayUrl(i)), secret: RELAY_SECRET } } : {}),
      ice,
      peers: agent.peers,
      control: { socket: controlSocket },
      ...(options.tuning ? { tuning: options.tuning } : {}),
    };
    const configFile = join(this.dir, `${agent.name}.json`);
    writeFileSync(configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
    return { ifname: agent.ifname, configFile, controlSocket };
  }

  /** Spawns `mesh-agent up` in the role's namespace; resolves on its `agent-up` log line. */
  async startAgent(role: Role): Promise<AgentHandle> {
    const a = this.agents[role];
    a.proc = this.lab.spawnNode(role, CLI.agent(), ['up', '--config', a.configFile], {
      name: `mesh-agent:${role}#${++a.starts}`,
      maxLines: 200_000,
    });
    await a.proc.waitForLine(/"event":"agent-up"/, { timeoutMs: 20_000 });
    return a;
  }

  /**
   * SIGKILLs the agent, as a crash would. Its wireguard-go runs in its own process group and
   * survives (a service manager would kill the cgroup): kill exactly that process so a restart can
   * create the interface again.
   */
  async crashAgent(role: Role): Promise<void> {
    const a = this.agents[role];
    a.proc.kill('SIGKILL');
    await a.proc.exited;
    const found = await this.lab.exec(role, ['pgrep', '-f', `^wireguard-go -f ${a.ifname}$`]);
    for (const pid of found.stdout.split(/\s+/).filter(Boolean)) await this.lab.exec(role, ['kill', '-9', pid]);
    await this.lab.exec(role, ['ip', 'link', 'del', a.ifname]);
    rmSync(`/var/run/wireguard/${a.ifname}.sock`, { force: true });
    rmSync(a.controlSocket, { force: true });
  }

  /** The agent's status over its control socket. */
  status(role: Role): Promise<AgentStatus> {
    return requestAgentStatus(this.agents[role].controlSocket);
  }

  /** Both agents' counters summed (each has one peer). */
  async counters(): Promise<Counters> {
    return sumCounters(Object.values(await this.#snapshot()).map((s) => s.counters));
  }

  /** Each agent's counters and which start of it they belong to (a restarted agent counts from 0). */
  async #snapshot(): Promise<Record<Role, { starts: number; counters: Counters }>> {
    const out = {} as Record<Role, { starts: number; counters: Counters }>;
    for (const role of ROLES) {
      const st = await this.status(role);
      out[role] = { starts: this.agents[role].starts, counters: sumCounters(st.peers.map((p) => p.counters)) };
    }
    return out;
  }

  /**
   * Parsed JSON log lines of an agent (current process), optionally only `event`, and only those
   * written from `after` (a `mark`) on.
   */
  events(role: Role, event?: string, after = 0): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    const p = this.agents[role].proc;
    for (const l of p.lines.slice(Math.max(0, after - p.linesDropped))) {
      if (!l.startsWith('{')) continue;
      try {
        const e = JSON.parse(l) as Record<string, unknown>;
        if (event === undefined || e.event === event) out.push(e);
      } catch {
        // a partial line (the agent was killed mid-write) carries nothing we need
      }
    }
    return out;
  }

  /** Index to pass as `after` so a wait only sees log lines written from now on. */
  mark(role: Role): number {
    const p = this.agents[role].proc;
    return p.lines.length + p.linesDropped;
  }

  /** Waits for an agent to log `path-changed` to one of `paths` (lines before `after` ignored). */
  async waitPath(
    role: Role,
    paths: PathName | PathName[],
    options: { timeoutMs?: number; after?: number } = {},
  ): Promise<Record<string, unknown>> {
    const want = Array.isArray(paths) ? paths : [paths];
    const proc = this.agents[role].proc;
    const line = await proc.waitForLine(
      (l) => l.includes('"event":"path-changed"') && want.some((p) => l.includes(`"to":"${p}"`)),
      { timeoutMs: options.timeoutMs ?? 30_000, ...(options.after !== undefined ? { after: options.after } : {}) },
    );
    return JSON.parse(line) as Record<string, unknown>;
  }

  /** Polls status (bounded) until the role's peer is on one of `paths`; returns how long that took. */
  async waitStatusPath(role: Role, paths: PathName | PathName[], timeoutMs = 30_000): Promise<number> {
    const want = Array.isArray(paths) ? paths : [paths];
    const t0 = Date.now();
    for (let i = 0; Date.now() - t0 < timeoutMs && i < timeoutMs / 200; i++) {
      const st = await this.status(role);
      if (st.peers[0] && want.includes(st.peers[0].path)) return Date.now() - t0;
      await onceEvent(this.agents[role].proc, 'line', { timeoutMs: 200 }).catch(() => undefined);
    }
    const st = await this.status(role);
    throw new ChaosError(
      'ERR_CHAOS_TIMEOUT',
      `${role}: path ${st.peers[0]?.path} not in [${want}] after ${timeoutMs} ms`,
    );
  }

  /** In-tunnel ping from `from` (default peerA) to the other side's overlay address. */
  monitor(intervalMs = 100, from: Role = 'peerA'): OutageMonitor {
    return this.lab.startOutageMonitor(from, OVERLAY[other(from)], { intervalMs });
  }

  /** Resolves when the tunnel answers a ping (the first WireGuard handshake can take ~5 s). */
  async waitTunnel(timeoutMs = 30_000): Promise<void> {
    const mon = this.monitor(200);
    try {
      await waitProbes(mon, 1, 0, timeoutMs);
    } finally {
      await mon.stop();
    }
  }

  /**
   * Measures one fault: starts the in-tunnel ping, waits for it to answer, snapshots the counters,
   * runs `fault` (which may take as long as it likes: a 2-minute sleep, a 90-second block), then
   * waits until `stableProbes` consecutive probes sent after the fault ended are answered, keeps
   * watching `settleProbes` more, and reports the outages that began after the fault started.
   */
  async measure(fault: () => Promise<void>, options: MeasureOptions = {}): Promise<OutageMeasure> {
    const intervalMs = options.intervalMs ?? 100;
    const mon = this.monitor(intervalMs, options.from);
    try {
      await waitProbes(mon, 1, 0, 30_000);
      const before = await this.#snapshot();
      const t0 = Date.now();
      await fault();
      const faultEnd = Date.now();
      const recoveredAt = await waitProbes(
        mon,
        options.stableProbes ?? 10,
        faultEnd,
        options.recoverTimeoutMs ?? 120_000,
      );
      await waitProbes(mon, options.settleProbes ?? 30, recoveredAt, 60_000);
      const report = await mon.stop();
      const after = await this.#snapshot();
      const outages = report.outages.filter((o) => o.startAt >= t0 - intervalMs);
      const durations = outages.map((o) => o.durationMs ?? Number.POSITIVE_INFINITY);
      // An agent restarted during the fault counts from 0: all of its counters are growth.
      const delta = sumCounters(
        ROLES.map((r) => {
          const b = after[r].starts === before[r].starts ? before[r].counters : undefined;
          return Object.fromEntries(
            COUNTER_NAMES.map((n) => [n, after[r].counters[n] - (b?.[n] ?? 0)]),
          ) as unknown as Counters;
        }),
      );
      return {
        outageMs: durations.reduce((a, b) => a + b, 0),
        maxOutageMs: Math.max(0, ...durations),
        outages: outages.length,
        recoveredAfterMs: recoveredAt - t0,
        recoveredAfterFaultMs: Math.max(0, recoveredAt - faultEnd),
        delta,
        report,
      };
    } finally {
      await mon.stop();
    }
  }

  /** CPU time (clock ticks, 100 per second) and RSS of a process, from /proc. */
  async procStats(ns: string, pid: number): Promise<{ cpuTicks: number; rssKiB: number }> {
    const stat = (await this.lab.execOk(ns, ['cat', `/proc/${pid}/stat`])).stdout;
    const status = (await this.lab.execOk(ns, ['cat', `/proc/${pid}/status`])).stdout;
    // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { cpuTicks: Number(f[11]) + Number(f[12]), rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) };
  }

  /**
   * Counts the packets `src` sends through `nat` (to anyone): inserts an accounting rule that
   * matches and drops nothing, and returns a reader of its packet counter.
   */
  async countForwarded(nat: 'natA' | 'natB', src: string): Promise<() => Promise<number>> {
    const comment = `chaos-acct-${src}`;
    await this.lab.execOk(nat, [
      'iptables',
      '-w',
      '10',
      '-I',
      'FORWARD',
      '-s',
      src,
      '-m',
      'comment',
      '--comment',
      comment,
    ]);
    return () => this.rulePackets(nat, 'FORWARD', comment);
  }

  /** The packet counter of the first rule in `chain` whose comment is `comment` (NaN if none), e.g. a lab fault's. */
  async rulePackets(ns: string, chain: string, comment: string): Promise<number> {
    const list = await this.lab.execOk(ns, ['iptables', '-w', '10', '-nvx', '-L', chain]);
    const line = list.stdout.split('\n').find((l) => l.includes(`/* ${comment} */`));
    return Number(line?.trim().split(/\s+/)[0] ?? Number.NaN);
  }

  /** `wg show <ifname> dump` of the role's agent interface (keys, endpoint, latest-handshake, rx/tx). */
  async wgDump(role: Role): Promise<string> {
    const r = await this.lab.exec(role, ['wg', 'show', this.agents[role].ifname, 'dump']);
    return `${r.stdout}${r.stderr}`.trim();
  }

  /** The last lines of every agent, for an assertion message. */
  tail(n = 15): string {
    return ROLES.map((r) => {
      const p = this.agents[r]?.proc;
      if (!p) return '';
      return `--- ${r} (${p.name}) ---\n${[...p.lines.slice(-n), ...p.stderrLines.slice(-5)].join('\n')}`;
    }).join('\n');
  }

  /** Stops everything (agents first, SIGTERM: they remove their interfaces) and deletes the lab. Idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const logDir = this.options.logDir ?? process.env.MESH_CHAOS_LOGS;
    await Promise.allSettled(ROLES.map((r) => this.agents[r]?.proc?.stop(3_000)));
    if (logDir) {
      mkdirSync(logDir, { recursive: true });
      for (const r of ROLES) {
        const p = this.agents[r]?.proc;
        if (p) writeFileSync(join(logDir, `${r}.log`), [...p.lines, ...p.stderrLines].join('\n'));
      }
      for (const rel of this.relays) writeFileSync(join(logDir, `relay${rel.index}.log`), rel.proc.lines.join('\n'));
    }
    await this.lab.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}

function sumCounters(list: readonly Counters[]): Counters {
  const sum = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as unknown as Counters;
  for (const c of list) for (const n of COUNTER_NAMES) sum[n] += c[n];
  return sum;
}

/**
 * Resolves with the send time of the first of `count` consecutive answered probes sent at or after
 * `since`; rejects after `timeoutMs`.
 */
export async function waitProbes(mon: OutageMonitor, count: number, since: number, timeoutMs: number): Promise<number> {
  let run = 0;
  let first = 0;
  await onceEvent(mon, 'probe', {
    timeoutMs,
    filter: (p) => {
      if (p.sentAt < since) return false;
      if (!p.received) {
        run = 0;
        return false;
      }
      if (run++ === 0) first = p.sentAt;
      return run >= count;
    },
  }).catch((err: unknown) => {
    throw new ChaosError(
      'ERR_CHAOS_TIMEOUT',
      `the tunnel did not answer ${count} probes in a row within ${timeoutMs} ms (run ${run})`,
      err,
    );
  });
  return first;
}
