import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  generateKeyPair,
  type KeyPair,
  Lab,
  type LabProcess,
  type OutageMonitor,
  type WireguardGoHandle,
} from '@mesh/lab';

// Everything real: two PeerConns (fixtures/agent.mjs) in peerA/peerB behind two NATs, each next to
// its own wireguard-go; in svc the relay server CLI (with its fault switch), coturn, and a tiny
// WebSocket signaling relay. Children import BUILT packages: build first
// (`tools/with-node npx nx run-many -t build -p @mesh/peer-conn @mesh/relay-server @mesh/lab`).
// Shared by the lab tests and bench/recovery.ts.

const require = createRequire(import.meta.url);
const pkgDir = (name: string) => dirname(require.resolve(`${name}/package.json`));
const FIXTURES = join(pkgDir('@mesh/peer-conn'), 'test/lab/fixtures');
const RELAY_CLI = join(pkgDir('@mesh/relay-server'), 'dist/cli.js');

const RELAY_PORT = 33080;
const FAULT_PORT = 33081;
const SIGNAL_PORT = 8080;
const WG_PORT = 51820;
const SECRET = 'lab-relay-secret';
const OVERLAY = '100.64.0.0/24';
export const TUNNEL = { a: '100.64.0.1', b: '100.64.0.2' } as const;

export type Ev = { ev: string; at: number; [k: string]: unknown };

export interface AgentStatus {
  active: string;
  standby: string[];
  controller: boolean;
  relay: { server: string | null; stale: boolean; open: boolean };
  ice: { localSessionId: string | null; remoteSessionId: string | null; connecting: boolean; kind: string | null };
  lastHandshakeAt: number;
  counters: {
    offersSent: number;
    offersReceived: number;
    answersSent: number;
    relayOpens: number;
    relayReopens: number;
    relayTeardowns: number;
    iceSessions: number;
    recoveries: number;
  };
}

function parse(line: string): Ev | undefined {
  if (!line.startsWith('{"at"')) return undefined;
  try {
    return JSON.parse(line) as Ev;
  } catch {
    return undefined;
  }
}

/** One agent process (one PeerConn) and the JSON-lines protocol of fixtures/agent.mjs. */
export class Agent {
  #nextId = 1;
  constructor(
    readonly role: 'peerA' | 'peerB',
    readonly keys: KeyPair,
    readonly wg: WireguardGoHandle,
    readonly proc: LabProcess,
  ) {}

  /** Index of the next stdout line: pass as `after` to only see what happens from now on. */
  mark(): number {
    return this.proc.lines.length + this.proc.linesDropped;
  }

  async next(ev: string, o: { after?: number; timeoutMs?: number; filter?: (e: Ev) => boolean } = {}): Promise<Ev> {
    const line = await this.proc.waitForLine(
      (l) => {
        const e = parse(l);
        return e?.ev === ev && (!o.filter || o.filter(e));
      },
      { after: o.after ?? 0, timeoutMs: o.timeoutMs ?? 20_000 },
    );
    return parse(line)!;
  }

  /** Events of one kind seen since line `after`. */
  events(ev: string, after = 0): Ev[] {
    const first = Math.max(0, after - this.proc.linesDropped);
    return this.proc.lines
      .slice(first)
      .map(parse)
      .filter((e): e is Ev => e?.ev === ev);
  }

  async request(cmd: 'status' | 'offer', timeoutMs = 10_000): Promise<Ev> {
    const id = this.#nextId++;
    const after = this.mark();
    this.proc.send({ cmd, id });
    return this.next(cmd === 'status' ? 'status' : 'offered', { after, timeoutMs, filter: (e) => e.id === id });
  }

  async status(): Promise<AgentStatus> {
    return (await this.request('status')) as unknown as AgentStatus;
  }
}

export interface MeshLabOptions {
  /** Start with only the relay server reachable from peerA (see `relayOnly()`). */
  relayOnly?: boolean;
  /** Agent log level (default info). */
  logLevel?: string;
}

export class MeshLab {
  relay!: LabProcess;
  signal!: LabProcess;
  a!: Agent;
  b!: Agent;
  monitor: OutageMonitor | undefined;
  readonly relayUrl: string;

  private constructor(readonly lab: Lab) {
    this.relayUrl = `rel://${lab.addr.svc}:${RELAY_PORT}`;
  }

  static async create(options: MeshLabOptions = {}): Promise<MeshLab> {
    const lab = await Lab.create({ natA: 'cone', natB: 'cone' });
    const ml = new MeshLab(lab);
    try {
      await ml.#start(options);
      return ml;
    } catch (err) {
      await ml.destroy();
      throw err;
    }
  }

  async #start(options: MeshLabOptions): Promise<void> {
    const { lab } = this;
    const svc = lab.addr.svc;
    await lab.startCoturn({ user: 'u', password: 'p' });
    this.relay = await this.#startRelay();
    this.signal = lab.spawnNode('svc', join(FIXTURES, 'signal-relay.mjs'), [`${svc}:${SIGNAL_PORT}`], {
      name: 'signal-relay',
    });
    await this.signal.waitForLine(/"ev":"listening"/);
    if (options.relayOnly) await this.relayOnly(true);
    const ka = generateKeyPair();
    const kb = generateKeyPair();
    const side = async (role: 'peerA' | 'peerB', self: KeyPair, remote: KeyPair, ip: string, remoteIp: string) => {
      const wg = await lab.startWireguardGo(role, {
        address: `${ip}/24`,
        privateKey: self.privateKey,
        listenPort: WG_PORT,
      });
      const config = {
        name: role,
        ifname: wg.ifname,
        publicKey: self.publicKey,
        remotePublicKey: remote.publicKey,
        wgPort: WG_PORT,
        relayUrl: this.relayUrl,
        relaySecret: SECRET,
        signalUrl: `ws://${svc}:${SIGNAL_PORT}`,
        stun: { host: svc, port: 3478 },
        turn: { host: svc, port: 3478, username: 'u', password: 'p' },
        overlay: OVERLAY,
        allowedIps: [`${remoteIp}/32`],
        logLevel: options.logLevel ?? 'info',
      };
      const proc = lab.spawnNode(role, join(FIXTURES, 'agent.mjs'), [JSON.stringify(config)], {
        name: `agent:${role}`,
        maxLines: 50_000,
      });
      return new Agent(role, self, wg, proc);
    };
    this.a = await side('peerA', ka, kb, TUNNEL.a, TUNNEL.b);
    this.b = await side('peerB', kb, ka, TUNNEL.b, TUNNEL.a);
    await Promise.all([this.a.next('ready'), this.b.next('ready')]);
  }

  async #startRelay(): Promise<LabProcess> {
    const svc = this.lab.addr.svc;
    const proc = this.lab.spawnNode(
      'svc',
      RELAY_CLI,
      [
        '--listen',
        `${svc}:${RELAY_PORT}`,
        '--secret',
        SECRET,
        '--exposed-address',
        this.relayUrl,
        '--fault-control',
        `127.0.0.1:${FAULT_PORT}`,
      ],
      { name: 'mesh-relay' },
    );
    await proc.waitForLine(/relay-fault-control/);
    return proc;
  }

  /**
   * natA drops all UDP (STUN/TURN to svc included) and TCP to coturn: only the relay server is left.
   * (UDP alone is not enough: werift falls back to TURN over TCP, which gives ice-turn.)
   */
  async relayOnly(on: boolean): Promise<void> {
    await this.lab.blockUdp('natA', on, { all: true });
    await this.lab.blockTurnTcp('natA', on);
  }

  /** Restarts the relay server (SIGTERM: it says goodbye to every peer) on the same address. */
  async restartRelay(): Promise<void> {
    await this.relay.stop();
    this.relay = await this.#startRelay();
  }

  /** The relay server forgets `role`'s session without telling its subscribers (fault switch). */
  async dropRelaySession(role: 'peerA' | 'peerB', keepSocket = false): Promise<void> {
    const key = (role === 'peerA' ? this.a : this.b).keys.publicKey;
    const q = `peer=${encodeURIComponent(key)}${keepSocket ? '&keepSocket=1' : ''}`;
    const r = await this.lab.execOk('svc', ['curl', '-sf', '-X', 'POST', `http://127.0.0.1:${FAULT_PORT}/drop?${q}`]);
    if (!r.stdout.includes('"result":true')) throw new Error(`relay did not drop the session: ${r.stdout}`);
  }

  statuses(): Promise<[AgentStatus, AgentStatus]> {
    return Promise.all([this.a.status(), this.b.status()]);
  }

  /** Polls both agents until `cond` holds for both; bounded by `timeoutMs`. Returns the statuses. */
  async until(
    cond: (s: AgentStatus, side: 'a' | 'b') => boolean,
    timeoutMs: number,
    what = 'condition',
  ): Promise<[AgentStatus, AgentStatus]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [sa, sb] = await this.statuses();
      if (cond(sa, 'a') && cond(sb, 'b')) return [sa, sb];
      if (Date.now() > deadline) {
        throw new Error(`${what} not met within ${timeoutMs} ms: A=${JSON.stringify(sa)} B=${JSON.stringify(sb)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Starts the ping through the tunnel (peerA → peerB) and waits for the first answered probe. */
  async startMonitor(timeoutMs = 30_000): Promise<OutageMonitor> {
    const mon = this.lab.startOutageMonitor('peerA', TUNNEL.b, { intervalMs: 100 });
    this.monitor = mon;
    await waitForProbes(mon, 1, timeoutMs);
    return mon;
  }

  async destroy(): Promise<void> {
    await this.monitor?.stop().catch(() => {});
    await this.lab.destroy();
  }
}

/**
 * Resolves once `count` consecutive probes sent at or after `since` were answered (so traffic flows
 * and keeps flowing); rejects after `timeoutMs`.
 */
export function waitForProbes(mon: OutageMonitor, count: number, timeoutMs: number, since = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    let run = 0;
    let firstOk = 0;
    const timer = setTimeout(() => {
      mon.off('probe', onProbe);
      reject(new Error(`no ${count} answered probes through the tunnel within ${timeoutMs} ms`));
    }, timeoutMs);
    const onProbe = (p: { sentAt: number; received: boolean }) => {
      if (p.sentAt < since) return;
      if (!p.received) {
        run = 0;
        return;
      }
      if (run++ === 0) firstOk = p.sentAt;
      if (run >= count) {
        clearTimeout(timer);
        mon.off('probe', onProbe);
        resolve(firstOk);
      }
    };
    mon.on('probe', onProbe);
  });
}

export interface Trial {
  scenario: string;
  /** Total ping outage (ms) from the fault until traffic flowed again for 2 s. */
  outageMs: number;
  /** Fault injected → first answered probe of the final run. */
  recoveredAfterMs: number;
  outages: { startAt: number; durationMs: number | null; lost: number }[];
  /** What PeerConn itself reported (`recovered` events after the fault): outage and new path. */
  peerConnRecovered: { a: { outageMs: number; path: string }[]; b: { outageMs: number; path: string }[] };
  offers: number;
  teardowns: number;
  reopens: { a: number; b: number };
  staleMarked: { a: string[]; b: string[] };
  sessionsRotated: { a: number; b: number };
  before: { a: string; b: string };
  after: { a: string; b: string };
}

/**
 * Injects `fault` on a healthy tunnel and waits (≤ `timeoutMs`) until ping has flowed again for
 * 2 s; records the outage and what PeerConn did about it (offers, tear-downs, stale marks).
 */
export async function measureRecovery(
  ml: MeshLab,
  scenario: string,
  fault: () => Promise<void>,
  timeoutMs = 30_000,
): Promise<Trial> {
  const mon = ml.monitor ?? (await ml.startMonitor());
  const [sa0, sb0] = await Promise.all([ml.a.status(), ml.b.status()]);
  const ma = ml.a.mark();
  const mb = ml.b.mark();
  const t0 = Date.now();
  await fault();
  const faultAt = Date.now();
  // The fault is in place once `fault()` resolved; probes sent from t0 on may already be lost.
  const firstOk = await waitForProbes(mon, 20, timeoutMs, faultAt);
  const [sa1, sb1] = await Promise.all([ml.a.status(), ml.b.status()]);
  const outages = mon
    .outages()
    .filter((o) => o.startAt >= t0 - 100)
    .map((o) => ({ startAt: o.startAt, durationMs: o.durationMs, lost: o.lost }));
  const outageMs = outages.reduce((sum, o) => sum + (o.durationMs ?? 0), 0);
  const d = (k: keyof AgentStatus['counters']) => sa1.counters[k] - sa0.counters[k] + sb1.counters[k] - sb0.counters[k];
  const rec = (e: Ev) => ({ outageMs: e.outageMs as number, path: e.path as string });
  return {
    scenario,
    outageMs,
    recoveredAfterMs: Math.max(0, firstOk - faultAt),
    outages,
    peerConnRecovered: { a: ml.a.events('recovered', ma).map(rec), b: ml.b.events('recovered', mb).map(rec) },
    offers: d('offersSent'),
    teardowns: d('relayTeardowns'),
    reopens: {
      a: sa1.counters.relayReopens - sa0.counters.relayReopens,
      b: sb1.counters.relayReopens - sb0.counters.relayReopens,
    },
    staleMarked: {
      a: ml.a.events('stale-marked', ma).map((e) => String(e.reason)),
      b: ml.b.events('stale-marked', mb).map((e) => String(e.reason)),
    },
    sessionsRotated: { a: ml.a.events('session-rotated', ma).length, b: ml.b.events('session-rotated', mb).length },
    before: { a: sa0.active, b: sb0.active },
    after: { a: sa1.active, b: sb1.active },
  };
}
