import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Clock, type Logger, silentLogger, systemClock, throwIfAborted } from '@mesh/core';
import { LabError, LabErrorCodes } from './errors.js';
import { commandFailed, type ExecOptions, type ExecResult, runCommand } from './exec.js';
import {
  assertIfname,
  assertRunId,
  type LabNamespaces,
  type NatRole,
  namespaceNames,
  newRunId,
  OPTIONAL_ROLES,
  type PeerRole,
  type Role,
  wgIfname,
} from './names.js';
import { OutageMonitor, type OutageMonitorOptions, pingArgv } from './outage.js';
import { LabProcess, type SpawnOptions } from './process.js';
import {
  cleanupLeftoverLabs,
  type LabRecord,
  procStartTime,
  runDir,
  teardownSync,
  WG_SOCKET_DIR,
  writeRecord,
} from './registry.js';
import {
  type Argv,
  BASE_ADDR,
  blockTurnTcpRule,
  blockUdpRule,
  DEV,
  type Direction,
  dropDirectionRule,
  dropStunRule,
  findUplink,
  inNs,
  ipIn,
  iptablesIn,
  type LabAddresses,
  lossRule,
  NATS,
  type NatKind,
  type NetemOptions,
  netemCommand,
  nextWanAddress,
  type Proto,
  portForwardRule,
  qdiscDeleteCommand,
  type RuleSpec,
  roamCommands,
  tbfCommand,
  topologyCommands,
  topologyRoutes,
  udpLossRule,
  uplinkVia,
  WAN_PREFIX,
} from './topology.js';
import { UdpAgent, type UdpAgentOptions } from './udp-agent-client.js';

export interface LabOptions {
  natA?: NatKind;
  natB?: NatKind;
  /**
   * peerA's uplinks (default 1). With 2, peerA also has `eth1` (down, no address) to its own NAT
   * namespace natC (`natC` kind, cone by default) → inet, and `lab.roam('peerA', 2)` moves it there.
   */
  uplinks?: 1 | 2;
  natC?: NatKind;
  /** 1-8 characters [a-z0-9]; random by default. Every namespace name carries it. */
  runId?: string;
  logger?: Logger;
  signal?: AbortSignal;
  clock?: Clock;
  /** Remove labs of dead owners before building (default true; never touches live labs). */
  cleanupLeftovers?: boolean;
}

export interface WireguardGoOptions {
  /** Default `ml<runid>_<n>`; must be unique on the host (the UAPI socket directory is shared). */
  ifname?: string;
  /** Tunnel address with prefix, e.g. '100.64.0.1/24'. */
  address: string;
  listenPort?: number;
  /** base64 private key to set (`wg set ... private-key`); none by default. */
  privateKey?: string;
  mtu?: number;
  signal?: AbortSignal;
}

export interface WireguardGoHandle {
  ns: string;
  ifname: string;
  /** `/var/run/wireguard/<ifname>.sock` */
  uapiSocket: string;
  process: LabProcess;
  /** SIGTERM (wireguard-go removes its socket and interface), SIGKILL after a grace. Idempotent. */
  stop(): Promise<void>;
}

export interface CoturnOptions {
  user?: string;
  password?: string;
  realm?: string;
  port?: number;
  signal?: AbortSignal;
}

export interface CoturnHandle {
  stunUrl: string;
  turnUrl: string;
  user: string;
  password: string;
  realm: string;
  process: LabProcess;
  stop(): Promise<void>;
}

export interface PortForward {
  nat: NatRole;
  proto: 'udp' | 'tcp';
  /** Port on the NAT's WAN address. */
  wanPort: number;
  peerPort: number;
  remove(): Promise<void>;
}

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

/** A fresh X25519 key pair in WireGuard's base64 form (node:crypto; no `wg genkey` process). */
export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const priv = privateKey.export({ format: 'jwk' }).d!;
  const pub = publicKey.export({ format: 'jwk' }).x!;
  return {
    privateKey: Buffer.from(priv, 'base64url').toString('base64'),
    publicKey: Buffer.from(pub, 'base64url').toString('base64'),
  };
}

const live = new Set<Lab>();
let handlersInstalled = false;

/** Tears every live lab down when the process exits or is signalled (once per process). */
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const lab of live) lab.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      for (const lab of live) lab.destroySync();
      // If nobody else handles the signal, die of it as we would have without this handler.
      if (process.listenerCount(sig) === 1) {
        process.off(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

/** The NAT kind of each NAT a lab has. */
export type LabNats = Record<'natA' | 'natB', NatKind> & Partial<Record<'natC', NatKind>>;

/**
 * A real network (ARCHITECTURE §6) in six namespaces: peerA – natA – inet – natB – peerB, svc on inet
 * (and natC, peerA's second uplink, with `uplinks: 2`).
 * Build with `Lab.create()`, always `destroy()` (also done on process exit and SIGINT/SIGTERM).
 */
export class Lab {
  readonly runId: string;
  /** Real namespace names (`m<runid>-<role>`) of the namespaces this lab has. */
  readonly ns: Readonly<LabNamespaces>;
  /** Current addresses; `natAWan`/`natBWan`/`natCWan` change with `rotatePublicIp`. */
  readonly addr: LabAddresses;
  /** In-namespace interface names. */
  readonly dev = DEV;
  readonly nat: Readonly<LabNats>;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #record: LabRecord;
  readonly #procs = new Set<LabProcess>();
  readonly #monitors = new Set<OutageMonitor>();
  readonly #rules = new Map<string, { role: Role; table: string; chain: string; spec: RuleSpec }>();
  /** The uplink each peer is on (`roam`). */
  readonly #uplink: Record<PeerRole, number> = { peerA: 1, peerB: 1 };
  #wgCount = 0;
  #netemSupported: Promise<boolean> | undefined;
  #destroying: Promise<void> | undefined;
  #destroyed = false;

  private constructor(runId: string, nat: LabNats, log: Logger, clock: Clock) {
    this.runId = runId;
    this.ns = namespaceNames(runId, nat.natC ? ['natC'] : []);
    this.addr = { ...BASE_ADDR };
    this.nat = nat;
    this.#log = log;
    this.#clock = clock;
    this.#record = {
      runId,
      pid: process.pid,
      pidStart: procStartTime(process.pid),
      createdAt: Date.now(),
      namespaces: Object.values(this.ns),
      sockets: [],
    };
  }

  /** Builds a lab. Needs root. On any failure everything already built is removed. */
  static async create(options: LabOptions = {}): Promise<Lab> {
    if (process.getuid?.() !== 0) {
      throw new LabError(
        LabErrorCodes.NOT_ROOT,
        'the lab needs root (network namespaces, iptables, /dev/net/tun): run the command as root',
      );
    }
    throwIfAborted(options.signal);
    const runId = options.runId ?? newRunId();
    assertRunId(runId);
    const log = (options.logger ?? silentLogger).child({ lab: runId });
    if (options.cleanupLeftovers !== false) cleanupLeftoverLabs({ logger: log });
    if (options.uplinks !== undefined && options.uplinks !== 1 && options.uplinks !== 2) {
      throw new LabError(LabErrorCodes.INVALID, `uplinks must be 1 or 2 (got ${options.uplinks})`);
    }
    const nats: LabNats = { natA: options.natA ?? 'cone', natB: options.natB ?? 'cone' };
    if (options.uplinks === 2) nats.natC = options.natC ?? 'cone';
    const lab = new Lab(runId, nats, log, options.clock ?? systemClock);
    const taken = lab.#record.namespaces.filter((n) => existsSync(`/run/netns/${n}`));
    if (taken.length > 0) throw new LabError(LabErrorCodes.INVALID, `run id '${runId}' is in use: ${taken.join(', ')}`);
    // The record comes first: a crash from here on leaves a lab that cleanupLeftoverLabs can find.
    writeRecord(lab.#record);
    live.add(lab);
    installExitHandlers();
    try {
      for (const n of lab.#record.namespaces) await lab.#run(['ip', 'netns', 'add', n], { signal: options.signal });
      for (const argv of topologyCommands(lab.ns, lab.nat)) await lab.#run(argv, { signal: options.signal });
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    log.info('lab-up', { ns: lab.ns, nat: lab.nat });
    return lab;
  }

  /** Accepts a role ('peerA') or one of this lab's namespace names; anything else is an error. */
  resolveNs(nsOrRole: string): string {
    const byRole = this.ns[nsOrRole as Role];
    if (byRole !== undefined) return byRole;
    if (this.#record.namespaces.includes(nsOrRole)) return nsOrRole;
    const hint = (OPTIONAL_ROLES as readonly string[]).includes(nsOrRole)
      ? ' (natC needs Lab.create({ uplinks: 2 }))'
      : '';
    throw new LabError(LabErrorCodes.INVALID, `'${nsOrRole}' is not a namespace or role of lab ${this.runId}${hint}`);
  }

  #role(nsOrRole: string): Role {
    const name = this.resolveNs(nsOrRole);
    return (Object.keys(this.ns) as Role[]).find((r) => this.ns[r] === name)!;
  }

  #alive(): void {
    if (this.#destroyed) throw new LabError(LabErrorCodes.DESTROYED, `lab ${this.runId} is destroyed`);
  }

  async #run(argv: Argv, options: ExecOptions = {}): Promise<ExecResult> {
    const r = await runCommand(argv, { clock: this.#clock, ...options });
    if (r.code !== 0) throw commandFailed(argv, r);
    return r;
  }

  /** Runs argv in a namespace to completion: `{ code, stdout, stderr }` (non-zero exit is not an error). */
  async exec(ns: string, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    this.#alive();
    return runCommand(inNs(this.resolveNs(ns), argv), { clock: this.#clock, ...options });
  }

  /** Like exec, but a non-zero exit throws LabError ERR_LAB_COMMAND_FAILED with the output. */
  async execOk(ns: string, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.exec(ns, argv, options);
    if (r.code !== 0) throw commandFailed(inNs(this.resolveNs(ns), argv), r);
    return r;
  }

  /** Starts a long-running process in a namespace; destroy() stops it. */
  spawn(ns: string, argv: readonly string[], options: SpawnOptions = {}): LabProcess {
    this.#alive();
    const p = new LabProcess(this.resolveNs(ns), argv, options, { clock: this.#clock, logger: this.#log });
    this.#procs.add(p);
    void p.exited.then(() => this.#procs.delete(p));
    return p;
  }

  /** Runs a script with the Node that runs this code (process.execPath). */
  spawnNode(ns: string, script: string, args: readonly string[] = [], options: SpawnOptions = {}): LabProcess {
    return this.spawn(ns, [process.execPath, script, ...args], {
      name: options.name ?? script.split('/').pop(),
      ...options,
    });
  }

  /** Stops `p` and starts the same command again (process restart fault). */
  async restart(p: LabProcess, graceMs?: number): Promise<LabProcess> {
    await p.stop(graceMs);
    return this.spawn(p.ns, p.argv, p.options);
  }

  /** wireguard-go in a namespace with its TUN interface addressed and up; resolves once the UAPI socket exists. */
  async startWireguardGo(ns: string, options: WireguardGoOptions): Promise<WireguardGoHandle> {
    this.#alive();
    const nsName = this.resolveNs(ns);
    const ifname = options.ifname ?? wgIfname(this.runId, this.#wgCount++);
    assertIfname(ifname);
    const uapiSocket = join(WG_SOCKET_DIR, `${ifname}.sock`);
    if (existsSync(uapiSocket))
      throw new LabError(LabErrorCodes.INVALID, `${uapiSocket} exists: interface name in use`);
    this.#record.sockets.push(uapiSocket);
    writeRecord(this.#record);
    const proc = this.spawn(nsName, ['wireguard-go', '-f', ifname], {
      name: `wireguard-go:${ifname}`,
      env: { WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' },
    });
    const stop = async () => {
      await proc.stop();
      rmSync(uapiSocket, { force: true }); // wireguard-go leaves it behind when SIGKILLed
    };
    try {
      await this.#waitFor(() => existsSync(uapiSocket), proc, `${uapiSocket}`, 10_000, options.signal);
      const ip = (...a: string[]) => this.#run(ipIn(nsName, ...a), { signal: options.signal });
      await ip('addr', 'add', options.address, 'dev', ifname);
      if (options.mtu !== undefined) await ip('link', 'set', ifname, 'mtu', String(options.mtu));
      await ip('link', 'set', ifname, 'up');
      const wgArgs: string[] = [];
      if (options.listenPort !== undefined) wgArgs.push('listen-port', String(options.listenPort));
      // `wg` reads keys from a file only (Node's stdio pipes are sockets, so /dev/stdin fails).
      const keyFile = join(runDir(this.runId), `${ifname}.key`);
      if (options.privateKey !== undefined) {
        mkdirSync(runDir(this.runId), { recursive: true });
        writeFileSync(keyFile, `${options.privateKey}\n`, { mode: 0o600 });
        wgArgs.push('private-key', keyFile);
      }
      try {
        if (wgArgs.length > 0)
          await this.#run(inNs(nsName, ['wg', 'set', ifname, ...wgArgs]), { signal: options.signal });
      } finally {
        rmSync(keyFile, { force: true });
      }
    } catch (e) {
      await stop();
      throw e;
    }
    this.#log.info('lab-wireguard-go', { ns: nsName, ifname, pid: proc.pid });
    return { ns: nsName, ifname, uapiSocket, process: proc, stop };
  }

  /** Polls `cond` (readiness of something that has no event: a socket file) until true, the process exits, or the deadline. */
  async #waitFor(
    cond: () => boolean | Promise<boolean>,
    proc: LabProcess,
    what: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const deadline = this.#clock.monotonic() + timeoutMs;
    while (!(await cond())) {
      if (!proc.running) {
        throw new LabError(LabErrorCodes.PROCESS_EXITED, `${proc.name} exited before ${what} appeared`, {
          command: proc.argv,
          stderr: proc.stderrLines.slice(-40).join('\n'),
        });
      }
      if (this.#clock.monotonic() > deadline) {
        throw new LabError(LabErrorCodes.TIMEOUT, `${what} did not appear within ${timeoutMs} ms`, {
          command: proc.argv,
          stderr: proc.stderrLines.slice(-40).join('\n'),
        });
      }
      await this.#clock.sleep(20, { signal });
    }
  }

  /** coturn in svc (STUN + TURN with long-term credentials on svc:3478), ready when it listens. */
  async startCoturn(options: CoturnOptions = {}): Promise<CoturnHandle> {
    this.#alive();
    const { user = 'u', password = 'p', realm = 'mesh', port = 3478 } = options;
    const dir = runDir(this.runId);
    mkdirSync(dir, { recursive: true });
    const ip = this.addr.svc;
    const proc = this.spawn(
      'svc',
      [
        // coturn does not flush its stdout log; line buffering makes it visible in proc.lines.
        'stdbuf',
        '-oL',
        'turnserver',
        `--listening-ip=${ip}`,
        `--relay-ip=${ip}`,
        `--listening-port=${port}`,
        '--lt-cred-mech',
        `--user=${user}:${password}`,
        `--realm=${realm}`,
        '--no-tls',
        '--no-dtls',
        '--no-cli',
        '--fingerprint',
        // Per-lab files: the mount namespace (and coturn's default /var paths) are shared with other labs.
        `--pidfile=${join(dir, `turnserver-${port}.pid`)}`,
        `--userdb=${join(dir, `turndb-${port}`)}`,
        '--log-file=stdout',
        '--simple-log',
      ],
      { name: 'turnserver' },
    );
    try {
      // coturn logs no "listening" line on every version: ready is when its UDP socket is bound.
      const listening = async () => {
        const r = await runCommand(inNs(proc.ns, ['ss', '-Hnul', 'src', `${ip}:${port}`]), { clock: this.#clock });
        return r.stdout.includes(`${ip}:${port}`);
      };
      await this.#waitFor(listening, proc, `coturn listening on ${ip}:${port}`, 15_000, options.signal);
    } catch (e) {
      await proc.stop();
      throw e;
    }
    return {
      stunUrl: `stun:${ip}:${port}`,
      turnUrl: `turn:${ip}:${port}?transport=udp`,
      user,
      password,
      realm,
      process: proc,
      stop: async () => {
        await proc.stop();
      },
    };
  }

  /** A UDP socket in a namespace driven over JSON lines (see udp-agent.ts); needs dist/ built. */
  async startUdpAgent(ns: string, options: UdpAgentOptions = {}): Promise<UdpAgent> {
    const script = udpAgentScript();
    const args = ['--port', String(options.port ?? 0)];
    if (options.bind) args.push('--bind', options.bind);
    if (options.echo) args.push('--echo');
    const proc = this.spawnNode(ns, script, args, { name: `udp-agent:${ns}` });
    return UdpAgent.ready(proc, options, this.#clock);
  }

  // ---- faults -------------------------------------------------------------------------------

  /** Moves a NAT to a new WAN address (del old, add new, restore the default route); returns it. */
  async rotatePublicIp(nat: NatRole, options: { to?: string; signal?: AbortSignal } = {}): Promise<string> {
    this.#alive();
    const info = NATS[nat];
    const old = this.addr[info.wanKey];
    const next = options.to ?? nextWanAddress(old);
    const ns = this.resolveNs(nat);
    const signal = options.signal;
    // Removing the address makes the kernel flush masqueraded conntrack entries, as a real re-dial does.
    await this.#run(ipIn(ns, 'addr', 'del', `${old}/${WAN_PREFIX}`, 'dev', DEV.natWan), { signal });
    await this.#run(ipIn(ns, 'addr', 'add', `${next}/${WAN_PREFIX}`, 'dev', DEV.natWan), { signal });
    await this.#run(ipIn(ns, 'route', 'replace', 'default', 'via', info.gateway, 'dev', DEV.natWan), { signal });
    this.addr[info.wanKey] = next;
    this.#log.info('lab-rotate-ip', { nat, from: old, to: next });
    return next;
  }

  /** `conntrack -F` on a NAT: every mapping is gone. */
  async conntrackFlush(nat: NatRole, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#alive();
    await this.#run(inNs(this.resolveNs(nat), ['conntrack', '-F']), options);
  }

  /** Blocks (true) or unblocks UDP through a NAT: peer↔peer only, svc stays reachable unless `all`. */
  async blockUdp(nat: NatRole, on: boolean, options: { all?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    await this.#toggleRule(nat, 'filter', 'FORWARD', blockUdpRule(options.all ?? false), on, options.signal);
  }

  /**
   * Drops TCP to TURN (port 3478) through the NAT. With UDP blocked, werift falls back to TURN over
   * TCP; blocking both leaves only the relay server.
   */
  async blockTurnTcp(nat: NatRole, on: boolean, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#toggleRule(nat, 'filter', 'FORWARD', blockTurnTcpRule(), on, options.signal);
  }

  /** Drops one direction through a NAT (inbound = WAN→LAN), optionally one protocol; svc spared unless `all`. */
  async dropDirection(
    nat: NatRole,
    direction: Direction,
    on: boolean,
    options: { proto?: Proto; all?: boolean; signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.#toggleRule(nat, 'filter', 'FORWARD', dropDirectionRule(direction, options), on, options.signal);
  }

  /**
   * Drops STUN between the peers through a NAT (ICE checks and consent; svc spared unless `all`)
   * while every other UDP — WireGuard, the agents' probes — still flows.
   */
  async dropStun(nat: NatRole, on: boolean, options: { all?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    await this.#toggleRule(nat, 'filter', 'FORWARD', dropStunRule(options.all ?? false), on, options.signal);
  }

  /**
   * Random loss (`lossPct`, default 30) of peer↔peer UDP through a NAT, both directions; svc spared
   * unless `all`, TCP untouched. Turning it on with another percentage replaces the rule; off removes it.
   */
  async udpLoss(
    nat: NatRole,
    on: boolean,
    options: { lossPct?: number; all?: boolean; signal?: AbortSignal } = {},
  ): Promise<void> {
    const want = udpLossRule(options.lossPct ?? 30, options.all ?? false);
    const role = this.#role(nat);
    for (const rule of [...this.#rules.values()]) {
      const current = rule.role === role && rule.spec.includes('meshlab-udp-loss');
      const keep = on && rule.spec.join(' ') === want.join(' ');
      if (current && !keep) await this.#toggleRule(role, rule.table, rule.chain, rule.spec, false, options.signal);
    }
    if (on) await this.#toggleRule(role, 'filter', 'FORWARD', want, true, options.signal);
  }

  /** The uplink `peer` is on now (1 unless it roamed). */
  uplink(peer: PeerRole): number {
    return this.#uplink[peer];
  }

  /**
   * Moves `peer` to its uplink `to` as a roam happens (Wi-Fi ↔ LTE, WAN failover): the new link up
   * with its address, the default route via the new NAT, the old link's address removed and the
   * link down. The new NAT is another network with its own public address; no-op if already there.
   */
  async roam(peer: PeerRole, to: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#alive();
    const from = findUplink(peer, this.#uplink[peer])!;
    const next = findUplink(peer, to);
    if (!next || this.ns[next.nat] === undefined) {
      throw new LabError(LabErrorCodes.INVALID, `${peer} has no uplink ${to} in lab ${this.runId} (uplinks: 2?)`);
    }
    if (next === from) return;
    for (const argv of roamCommands(this.ns, from, next)) await this.#run(argv, options);
    this.#uplink[peer] = to;
    this.#log.info('lab-roam', { peer, from: from.index, to, via: next.nat });
  }

  /** DNAT `wanPort` on the NAT's WAN address to its peer's `peerPort` (default the same port). */
  async portForward(
    nat: NatRole,
    options: { proto?: 'udp' | 'tcp'; wanPort: number; peerPort?: number; signal?: AbortSignal },
  ): Promise<PortForward> {
    const proto = options.proto ?? 'udp';
    const peerPort = options.peerPort ?? options.wanPort;
    const spec = portForwardRule(this.addr[uplinkVia(nat).addrKey], proto, options.wanPort, peerPort);
    await this.#toggleRule(nat, 'nat', 'PREROUTING', spec, true, options.signal);
    return {
      nat,
      proto,
      wanPort: options.wanPort,
      peerPort,
      remove: () => this.#toggleRule(nat, 'nat', 'PREROUTING', spec, false),
    };
  }

  async #toggleRule(
    role: Role,
    table: string,
    chain: string,
    spec: RuleSpec,
    on: boolean,
    signal?: AbortSignal,
  ): Promise<void> {
    this.#alive();
    const key = `${role}|${table}|${chain}|${spec.join(' ')}`;
    if (on === this.#rules.has(key)) return; // idempotent
    await this.#run(iptablesIn(this.resolveNs(role), '-t', table, on ? '-I' : '-D', chain, ...spec), { signal });
    if (on) this.#rules.set(key, { role, table, chain, spec });
    else this.#rules.delete(key);
    this.#log.info('lab-rule', { role, table, chain, on, spec: spec.join(' ') });
  }

  /** True when the kernel has netem (delay/jitter); probed once per lab in a scratch qdisc on svc's lo. */
  async netemSupported(): Promise<boolean> {
    this.#netemSupported ??= (async () => {
      const ns = this.ns.svc;
      const r = await runCommand(netemCommand(ns, 'lo', { delayMs: 0 }), { clock: this.#clock });
      if (r.code === 0) await runCommand(qdiscDeleteCommand(ns, 'lo'), { clock: this.#clock });
      return r.code === 0;
    })();
    return this.#netemSupported;
  }

  /**
   * Degrades a link: delay/jitter/loss/rate on packets leaving `dev`, or `null` to restore it.
   * Uses netem when the kernel has it; otherwise loss is an iptables statistic drop and rate a
   * token bucket, and delay/jitter fail with ERR_LAB_UNSUPPORTED.
   */
  async netem(
    ns: string,
    dev: string,
    options: NetemOptions | null,
    execOptions: { signal?: AbortSignal } = {},
  ): Promise<void> {
    this.#alive();
    const role = this.#role(ns);
    const nsName = this.resolveNs(role);
    const { signal } = execOptions;
    // Start from a clean link: no qdisc, no loss rules (a missing qdisc is already the wanted state).
    await runCommand(qdiscDeleteCommand(nsName, dev), { clock: this.#clock, signal });
    for (const rule of [...this.#rules.values()]) {
      if (rule.role === role && rule.spec.includes('meshlab-loss') && rule.spec[1] === dev) {
        await this.#toggleRule(role, rule.table, rule.chain, rule.spec, false, signal);
      }
    }
    if (options === null) return;
    if (await this.netemSupported()) {
      await this.#run(netemCommand(nsName, dev, options), { signal });
      return;
    }
    if (options.delayMs !== undefined || options.jitterMs !== undefined) {
      throw new LabError(
        LabErrorCodes.UNSUPPORTED,
        'this kernel has no netem (CONFIG_NET_SCH_NETEM): delay/jitter are unavailable; loss and rate still work',
      );
    }
    if (options.rate !== undefined) await this.#run(tbfCommand(nsName, dev, options.rate), { signal });
    if (options.lossPct !== undefined && options.lossPct > 0) {
      for (const chain of ['FORWARD', 'OUTPUT']) {
        await this.#toggleRule(role, 'filter', chain, lossRule(dev, options.lossPct), true, signal);
      }
    }
  }

  async linkDown(ns: string, dev: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#alive();
    await this.#run(ipIn(this.resolveNs(ns), 'link', 'set', dev, 'down'), options);
  }

  /** Brings a link up and restores the routes that `linkDown` deleted. */
  async linkUp(ns: string, dev: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#alive();
    const role = this.#role(ns);
    await this.#run(ipIn(this.resolveNs(role), 'link', 'set', dev, 'up'), options);
    for (const r of topologyRoutes(this.ns, this.#uplink)) {
      if (r.role === role && r.dev === dev) await this.#run(r.argv, options);
    }
  }

  // ---- measurement --------------------------------------------------------------------------

  /** Continuous ping from `ns` to `target` (e.g. the remote tunnel address) that reports outages. */
  startOutageMonitor(ns: string, target: string, options: OutageMonitorOptions = {}): OutageMonitor {
    const intervalMs = options.intervalMs ?? 100;
    const proc = this.spawn(ns, pingArgv(target, intervalMs), { name: `ping:${target}`, maxLines: 2_000 });
    const mon = new OutageMonitor(proc.ns, target, proc, { clock: this.#clock, ...options, intervalMs });
    this.#monitors.add(mon);
    return mon;
  }

  // ---- teardown -----------------------------------------------------------------------------

  /** Stops every process, deletes namespaces, veths, socket files and the record. Idempotent. */
  destroy(): Promise<void> {
    this.#destroying ??= (async () => {
      this.#destroyed = true;
      await Promise.allSettled([...this.#monitors].map((m) => m.stop()));
      // SIGTERM first so wireguard-go removes its own socket and interface.
      await Promise.allSettled([...this.#procs].map((p) => p.stop(1_000)));
      this.destroySync();
    })();
    return this.#destroying;
  }

  /** The synchronous part of destroy (kills what is left); used by process exit handlers. */
  destroySync(): void {
    this.#destroyed = true;
    if (!live.has(this)) return;
    live.delete(this);
    const r = teardownSync(this.runId, this.#record.namespaces, this.#record.sockets);
    this.#log.info('lab-down', { ...r });
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}

/** dist/udp-agent.js, next to the built lab code (or from the sources under vitest: needs a build). */
export function udpAgentScript(): string {
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL('../dist/udp-agent.js', here) : new URL('./udp-agent.js', here);
  const path = fileURLToPath(url);
  if (!existsSync(path)) {
    throw new LabError(LabErrorCodes.NOT_BUILT, `${path} is missing: build @mesh/lab first (cd tools/lab && npx tsup)`);
  }
  return path;
}
