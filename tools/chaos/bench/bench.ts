#!/usr/bin/env node
/**
 * Chaos benchmark (issue 6 acceptance 5), as root, after a build:
 *   sudo tools/with-node node tools/chaos/dist/bench.js [--trials 10] [--only outages,throughput,idle] [--peers 1,10,50]
 * 1. outages: each fault repeated N times with real agents (p50/p95/max of the in-tunnel outage);
 * 2. throughput: iperf3 TCP and ping RTT through the tunnel on the ICE path and on the relay path,
 *    beside plain wireguard-go (no agent) between the same namespaces, in the same run;
 * 3. idle: one agent with 1, 10, 50 peers (each remote peer a real mesh-agent in peerB): packets/s
 *    per peer, CPU and RSS of the agent under test.
 *    With them, issue 11's faults on a rig with a second uplink for peerA: roam (N trials, alternating
 *    to the second uplink and back), consent-only loss and a lossy direct path (`--long-trials`, 3:
 *    each lasts over a minute), with their own metrics table (p50/p95/max).
 * `--faults REGEX` runs only the outage faults whose name matches.
 * `--gap MS` (16 s) separates ICE trials so each starts from settled signaling (see the comment in `trials`).
 * Prints a table per part and one JSON line at the end; asserts nothing.
 */
import { parseArgs } from 'node:util';
import { generateKeyPair, type LabProcess } from '@mesh/lab';
import { consentLossTrial, lossyPathTrial, roamTrial, settleDirect } from '../src/recovery.js';
import { percentile } from '../src/report.js';
import { CLI, type OutageMeasure, RELAY_PORT, Rig, ROLES } from '../src/rig.js';
import { requestAgentStatus } from '../src/status.js';

const USAGE = `usage: bench.js [--trials N] [--only outages,throughput,idle] [--peers 1,10,50] [--seconds S]
                [--gap MS] [--faults REGEX] [--long-trials N]   (as root, after a build)`;

function options() {
  try {
    return parseArgs({
      options: {
        help: { type: 'boolean', short: 'h', default: false },
        trials: { type: 'string', default: '10' },
        only: { type: 'string', default: 'outages,throughput,idle' },
        peers: { type: 'string', default: '1,10,50' },
        seconds: { type: 'string', default: '5' },
        gap: { type: 'string', default: '16000' },
        faults: { type: 'string', default: '' },
        'long-trials': { type: 'string', default: '3' },
      },
    }).values;
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}
const values = options();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const TRIALS = Number(values.trials);
const PARTS = new Set(values.only.split(','));
const PEER_COUNTS = values.peers.split(',').map(Number);
const SECONDS = Number(values.seconds);
const GAP_MS = Number(values.gap);
const FAULTS = new RegExp(values.faults);
const LONG_TRIALS = Number(values['long-trials']);
/** Faults whose trials could not run to the end, with the first line of the error. */
const failed: Record<string, string> = {};
const results: Record<string, unknown> = { failed };
const log = (s: string) => console.log(s);
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');

function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const w = cells[0]!.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')).join('\n');
}

// ---- 1. outages over N trials -------------------------------------------------------------------

/** Runs one fault's trials; a trial that fails (a lab timeout) is reported and the next fault runs. */
async function attempt(name: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    failed[name] = String((err as Error).message).split('\n')[0]!;
    log(`  ${name}: FAILED: ${failed[name]}`);
  }
}

async function outages(): Promise<void> {
  const rows: (string | number)[][] = [
    ['fault', 'trials', 'p50 s', 'p95 s', 'max s', 'offers/trial', 'tear-downs/trial'],
  ];
  const all: Record<string, number[]> = {};
  const add = (name: string, ms: OutageMeasure[]) => {
    const o = ms.map((m) => m.outageMs);
    all[name] = o;
    const per = (k: 'offersSent' | 'relayTeardowns') => f1(ms.reduce((a, m) => a + m.delta[k], 0) / ms.length);
    rows.push([
      name,
      o.length,
      f1(percentile(o, 50) / 1000),
      f1(percentile(o, 95) / 1000),
      f1(Math.max(...o) / 1000),
      per('offersSent'),
      per('relayTeardowns'),
    ]);
    log(`  ${name}: ${o.map((x) => (x / 1000).toFixed(2)).join(' ')} s`);
  };
  {
    const rig = await Rig.create();
    try {
      for (const r of ROLES) await rig.waitPath(r, 'ice-direct', { timeoutMs: 30_000 });
      await rig.waitTunnel();
      const direct = async () => {
        for (const r of ROLES) await rig.waitStatusPath(r, 'ice-direct', 120_000);
      };
      const trials = async (fn: () => Promise<void>, prep = direct) => {
        const ms: OutageMeasure[] = [];
        for (let i = 0; i < TRIALS; i++) {
          await prep();
          // Independent events: each fault also cuts signaling, and the signal client's prompt
          // reconnects after network drops are token-bucketed (3, then one a minute), so faults
          // closer together measure that guard, not recovery.
          await new Promise((r) => setTimeout(r, GAP_MS));
          ms.push(await rig.measure(fn));
        }
        return ms;
      };
      const fault = async (name: string, fn: () => Promise<void>, prep = direct) => {
        if (FAULTS.test(name)) await attempt(name, async () => add(name, await trials(fn, prep)));
      };
      await fault('ICE: natA public IP rotated', () => rig.lab.rotatePublicIp('natA').then(() => {}));
      await fault('ICE: natA conntrack flush', () => rig.lab.conntrackFlush('natA'));
      await fault(
        'ICE: UDP blocked → relay',
        async () => {
          const mark = rig.mark('peerA');
          await rig.lab.blockUdp('natA', true);
          await rig.waitPath('peerA', 'relay', { after: mark, timeoutMs: 30_000 });
        },
        async () => {
          await rig.lab.blockUdp('natA', false);
          await direct();
        },
      );
      await rig.lab.blockUdp('natA', false);
      // §1: A→B UDP dropped at natB; B→A still flows, so only probes can tell.
      const oneWay = ['FORWARD', '-p', 'udp', '-s', rig.lab.addr.natAWan, '-j', 'DROP'];
      await fault(
        'ICE: one-way loss A→B (§1)',
        async () => {
          const mark = rig.mark('peerA');
          await rig.lab.execOk('natB', ['iptables', '-w', '10', '-I', ...oneWay]);
          await rig.waitPath('peerA', ['relay', 'ice-turn'], { after: mark, timeoutMs: 30_000 });
        },
        async () => {
          await rig.lab.exec('natB', ['iptables', '-w', '10', '-D', ...oneWay]);
          await direct();
        },
      );
      await rig.lab.exec('natB', ['iptables', '-w', '10', '-D', ...oneWay]);
      await fault('ICE: remote agent SIGKILL + restart', async () => {
        await rig.crashAgent('peerB');
        await rig.startAgent('peerB');
      });
    } finally {
      await rig.destroy();
    }
  }
  {
    const rig = await Rig.create({ start: 'none' });
    try {
      await rig.lab.blockUdp('natA', true);
      for (const r of ROLES) await rig.startAgent(r);
      await rig.waitTunnel();
      const relayed = async () => {
        for (const r of ROLES) await rig.waitStatusPath(r, 'relay', 60_000);
      };
      /** `restore` runs after each trial's recovery (a fault that must last until then). */
      const fault = async (name: string, fn: () => Promise<void>, restore?: () => Promise<void>) => {
        if (!FAULTS.test(name)) return;
        await attempt(name, async () => {
          const ms: OutageMeasure[] = [];
          for (let i = 0; i < TRIALS; i++) {
            await relayed();
            try {
              ms.push(await rig.measure(fn, { recoverTimeoutMs: 120_000 }));
            } finally {
              await restore?.();
            }
          }
          add(name, ms);
        });
      };
      await fault('relay: session dropped (§15)', () =>
        rig.relayFault(0, 'drop', { peer: rig.keys.peerA.publicKey }).then(() => {}),
      );
      await fault('relay: server restart (SIGTERM, at once)', async () => {
        await rig.stopRelay(0, 'SIGTERM');
        await rig.startRelay(0);
      });
      await fault('relay: server crash (SIGKILL, 5 s down, §11)', async () => {
        await rig.stopRelay(0, 'SIGKILL');
        await new Promise((r) => setTimeout(r, 5_000)); // the fault's duration, not a wait for an event
        await rig.startRelay(0);
      });
      // §11 half-open: the relay's FIN/RST never reach the clients, so their old sockets stay open.
      const halfOpen = ['FIN', 'RST'].map((flag) => [
        'OUTPUT',
        '-p',
        'tcp',
        '--sport',
        String(RELAY_PORT),
        '--tcp-flags',
        flag,
        flag,
        '-j',
        'DROP',
      ]);
      await fault(
        'relay: crash behind a half-open WebSocket (§11)',
        async () => {
          for (const r of halfOpen) await rig.lab.execOk('svc', ['iptables', '-w', '10', '-I', ...r]);
          await rig.stopRelay(0, 'SIGKILL');
          await rig.startRelay(0);
        },
        async () => {
          for (const r of halfOpen) await rig.lab.exec('svc', ['iptables', '-w', '10', '-D', ...r]);
        },
      );
      await fault('relay: natA IP rotated + flush', async () => {
        await rig.lab.rotatePublicIp('natA');
        await rig.lab.conntrackFlush('natA');
      });
    } finally {
      await rig.destroy();
    }
  }
  await recovery(add);
  log(`\noutages through the tunnel (100 ms ping), ${TRIALS} trials each\n${table(rows)}\n`);
  results.outages = all;
}

// ---- 1b. issue 11: roam, consent-only loss, lossy direct path -----------------------------------

const ROAM = 'ICE: roam to the second uplink and back (§3)';
const CONSENT = 'ICE: consent-only loss, STUN dropped 60 s (§31)';
const LOSSY = 'ICE: lossy direct path, 30 % UDP loss 60 s (§21)';

/** Adds the outage rows of issue 11's faults through `add`, and prints their own metrics. */
async function recovery(add: (name: string, ms: OutageMeasure[]) => void): Promise<void> {
  if (![ROAM, CONSENT, LOSSY].some((n) => FAULTS.test(n))) return;
  const rows: (string | number)[][] = [['metric', 'trials', 'p50', 'p95', 'max', 'none']];
  const metrics: Record<string, (number | null)[]> = {};
  /** One metric row; `none` counts trials without a value (never switched, not back in time). */
  const metric = (name: string, values: (number | null)[], scale = 1) => {
    metrics[name] = values;
    const v = values.filter((x): x is number => x !== null).map((x) => x / scale);
    const max = v.length > 0 ? Math.max(...v) : Number.NaN;
    rows.push([name, values.length, f1(percentile(v, 50)), f1(percentile(v, 95)), f1(max), values.length - v.length]);
  };
  const rig = await Rig.create({ uplinks: 2 });
  try {
    for (const r of ROLES) await rig.waitPath(r, 'ice-direct', { timeoutMs: 30_000 });
    await rig.waitTunnel();
    if (FAULTS.test(ROAM)) {
      const trials = [];
      try {
        for (let i = 0; i < TRIALS; i++) {
          await settleDirect(rig);
          await new Promise((r) => setTimeout(r, GAP_MS)); // independent events (see `trials` above)
          trials.push(await roamTrial(rig, i % 2 === 0 ? 2 : 1));
        }
      } finally {
        await rig.lab.roam('peerA', 1);
      }
      add(
        ROAM,
        trials.flatMap((t) => (t.measure ? [t.measure] : [])),
      );
      metric(
        'roam: tunnel back (s)',
        trials.map((t) => t.measure?.recoveredAfterMs ?? null),
        1000,
      );
      metric(
        'roam: path changes (both agents)',
        trials.map((t) => t.changes.peerA.total + t.changes.peerB.total),
      );
    }
    if (FAULTS.test(CONSENT)) {
      const trials = [];
      for (let i = 0; i < LONG_TRIALS; i++) {
        await settleDirect(rig);
        trials.push(await consentLossTrial(rig, 60_000));
      }
      add(
        CONSENT,
        trials.map((t) => t.measure),
      );
      metric(
        'consent: path changes (both agents)',
        trials.map((t) => t.changes.peerA.total + t.changes.peerB.total),
      );
      metric(
        'consent: STUN dropped → first path change (s)',
        trials.map((t) => t.firstChangeMs),
        1000,
      );
    }
    if (FAULTS.test(LOSSY)) {
      const trials = [];
      for (let i = 0; i < LONG_TRIALS; i++) {
        await settleDirect(rig);
        trials.push(await lossyPathTrial(rig, { lossPct: 30, durationMs: 60_000, backTimeoutMs: 60_000 }));
      }
      add(
        LOSSY,
        trials.map((t) => t.measure),
      );
      metric(
        'lossy: loss start → relay (s)',
        trials.map((t) => t.toRelayMs),
        1000,
      );
      metric(
        'lossy: ping loss after the switch (%)',
        trials.map((t) => t.lossAfterSwitchPct),
      );
      metric(
        'lossy: ping loss during the fault (%)',
        trials.map((t) => t.lossDuringPct),
      );
      metric(
        'lossy: loss end → ice-direct (s)',
        trials.map((t) => t.backToDirectMs),
        1000,
      );
      metric(
        'lossy: switches to relay (max of agents)',
        trials.map((t) => Math.max(t.changes.peerA.toRelay, t.changes.peerB.toRelay)),
      );
      metric(
        'lossy: switches to direct (max of agents)',
        trials.map((t) => Math.max(t.changes.peerA.toDirect, t.changes.peerB.toDirect)),
      );
    }
  } finally {
    await rig.destroy();
  }
  log(`\nissue 11 recovery metrics (roam ${TRIALS} trials, consent/lossy ${LONG_TRIALS})\n${table(rows)}\n`);
  results.recovery = metrics;
}

// ---- 2. throughput and RTT ----------------------------------------------------------------------

async function iperf(rig: Rig, target: string, port: number): Promise<{ mbps: number; rttMs: number }> {
  const server = rig.lab.spawn('peerB', ['iperf3', '-s', '-1', '--forceflush', '-p', String(port)], {
    name: 'iperf3-s',
  });
  try {
    await server.waitForLine(/Server listening/);
    const r = await rig.lab.execOk('peerA', ['iperf3', '-c', target, '-p', String(port), '-t', String(SECONDS), '-J'], {
      timeoutMs: (SECONDS + 20) * 1000,
    });
    const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
    const ping = await rig.lab.execOk('peerA', ['ping', '-c', '20', '-i', '0.05', '-q', target]);
    const rtt = Number(/= [\d.]+\/([\d.]+)\//.exec(ping.stdout)?.[1]);
    return { mbps: j.end.sum_received.bits_per_second / 1e6, rttMs: rtt };
  } finally {
    await server.stop();
  }
}

async function throughput(): Promise<void> {
  const rig = await Rig.create();
  const rows: (string | number)[][] = [['path', 'iperf3 TCP Mbit/s', 'ping RTT ms']];
  const out: Record<string, unknown> = {};
  try {
    for (const r of ROLES) await rig.waitPath(r, 'ice-direct', { timeoutMs: 30_000 });
    await rig.waitTunnel();
    // Plain wireguard-go between the same namespaces, no agent: B's port forwarded on natB.
    const ka = generateKeyPair();
    const kb = generateKeyPair();
    const wa = await rig.lab.startWireguardGo('peerA', {
      address: '100.65.0.1/24',
      listenPort: 51901,
      privateKey: ka.privateKey,
    });
    const wb = await rig.lab.startWireguardGo('peerB', {
      address: '100.65.0.2/24',
      listenPort: 51902,
      privateKey: kb.privateKey,
    });
    await rig.lab.portForward('natB', { wanPort: 51902 });
    await rig.lab.execOk('peerB', ['wg', 'set', wb.ifname, 'peer', ka.publicKey, 'allowed-ips', '100.65.0.1/32']);
    await rig.lab.execOk('peerA', [
      'wg',
      'set',
      wa.ifname,
      'peer',
      kb.publicKey,
      'endpoint',
      `${rig.lab.addr.natBWan}:51902`,
      'allowed-ips',
      '100.65.0.2/32',
      'persistent-keepalive',
      '25',
    ]);
    await rig.lab.execOk('peerA', ['ping', '-c', '3', '-W', '5', '100.65.0.2']);
    const plain = await iperf(rig, '100.65.0.2', 5201);
    const ice = await iperf(rig, '100.64.0.2', 5202);
    const mark = rig.mark('peerA');
    await rig.lab.blockUdp('natA', true);
    await rig.waitPath('peerA', 'relay', { after: mark, timeoutMs: 30_000 });
    await rig.waitTunnel();
    const relay = await iperf(rig, '100.64.0.2', 5203);
    for (const [name, v] of [
      ['plain wireguard-go (port forward)', plain],
      ['mesh-agent, ICE direct', ice],
      ['mesh-agent, relay', relay],
    ] as const) {
      rows.push([name, f1(v.mbps), v.rttMs.toFixed(2)]);
      out[name] = v;
    }
  } finally {
    await rig.destroy();
  }
  log(
    `\nthroughput (iperf3 -t ${SECONDS}) and RTT (20 pings) through the tunnel, same lab, same run\n${table(rows)}\n`,
  );
  results.throughput = out;
}

// ---- 3. idle cost per peer ----------------------------------------------------------------------

async function idle(): Promise<void> {
  const rows: (string | number)[][] = [
    [
      'peers',
      'connected',
      'up s',
      'all connected s',
      'pkts/s per peer',
      'agent CPU %',
      'agent RSS MiB',
      'RSS per peer KiB',
    ],
  ];
  const out: Record<string, unknown> = {};
  for (const n of PEER_COUNTS) {
    const rig = await Rig.create({ start: 'none' });
    const remotes: LabProcess[] = [];
    try {
      // 51 agents in one namespace bind hundreds of ephemeral UDP ports (PeerEndpoints, ICE): keep
      // them off the agents' WireGuard listen ports (51820 + n), or an agent can fail with EADDRINUSE.
      for (const ns of ['peerA', 'peerB'] as const) {
        await rig.lab.execOk(ns, ['sysctl', '-q', '-w', `net.ipv4.ip_local_reserved_ports=51820-${51830 + n}`]);
      }
      const self = generateKeyPair();
      const keys = Array.from({ length: n }, () => generateKeyPair());
      const addr = (i: number) => `100.64.${Math.floor((i + 2) / 250)}.${((i + 2) % 250) + 1}`;
      // The agent under test in peerA: n peers. Each remote peer is its own mesh-agent in peerB.
      const main = rig.writeAgentConfig({
        name: 'under-test',
        ifname: `mc${rig.lab.runId}t`,
        privateKey: self.privateKey,
        address: '100.64.0.1/16',
        peers: keys.map((k, i) => ({ publicKey: k.publicKey, allowedIps: [`${addr(i)}/32`] })),
      });
      for (let i = 0; i < n; i++) {
        const c = rig.writeAgentConfig({
          name: `remote${i}`,
          ifname: `mc${rig.lab.runId}r${i}`,
          privateKey: keys[i]!.privateKey,
          address: `${addr(i)}/32`,
          peers: [{ publicKey: self.publicKey, allowedIps: ['100.64.0.1/32'] }],
        });
        const p = rig.lab.spawnNode('peerB', CLI.agent(), ['up', '--config', c.configFile], {
          name: `remote${i}`,
          maxLines: 2_000,
        });
        await p.waitForLine(/"event":"agent-up"/, { timeoutMs: 30_000 });
        remotes.push(p);
      }
      const t0 = Date.now();
      const agent = rig.lab.spawnNode('peerA', CLI.agent(), ['up', '--config', main.configFile], {
        name: 'under-test',
      });
      await agent.waitForLine(/"event":"agent-up"/, { timeoutMs: 30_000 });
      const upMs = Date.now() - t0;
      // Bounded wait until every peer has a path (or 3 min).
      let connected = 0;
      const deadline = Date.now() + 180_000;
      let slowStatus = 0;
      while (Date.now() < deadline) {
        // With 50 peers the agent's event loop is saturated for seconds after start-up (50 ICE
        // sessions and their signaling at once): a status reply can miss its 5 s bound. Count it
        // and ask again.
        const st = await requestAgentStatus(main.controlSocket).catch(() => null);
        if (st) connected = st.peers.filter((p) => p.path !== 'none' && p.lastHandshakeAt).length;
        else slowStatus++;
        if (connected === n) break;
        await new Promise((r) => setTimeout(r, 1_000));
      }
      const connectedMs = Date.now() - t0;
      // Settle, then measure 30 s of idle.
      await new Promise((r) => setTimeout(r, 10_000));
      const sent = await rig.countForwarded('natA', rig.lab.addr.peerA);
      const sample = async () => ({ at: Date.now(), pkts: await sent(), ...(await rig.procStats('peerA', agent.pid)) });
      const s0 = await sample();
      await new Promise((r) => setTimeout(r, 30_000));
      const s1 = await sample();
      const secs = (s1.at - s0.at) / 1000;
      const v = {
        connected,
        upMs,
        connectedMs,
        slowStatus,
        ppsPerPeer: (s1.pkts - s0.pkts) / secs / n,
        cpuPct: (s1.cpuTicks - s0.cpuTicks) / secs,
        rssMiB: s1.rssKiB / 1024,
      };
      out[n] = v;
      log(`  ${n} peers: ${JSON.stringify(v)}`);
      rows.push([
        n,
        connected,
        f1(upMs / 1000),
        connected === n ? f1(connectedMs / 1000) : '-',
        v.ppsPerPeer.toFixed(2),
        v.cpuPct.toFixed(1),
        v.rssMiB.toFixed(0),
        '',
      ]);
    } catch (err) {
      // One size failing (e.g. the agent under test cannot start) must not hide the others.
      log(`  ${n} peers: failed: ${(err as Error).message.split('\n')[0]}`);
      out[n] = { error: (err as Error).message.split('\n')[0] };
    } finally {
      await Promise.allSettled(remotes.map((p) => p.stop(3_000)));
      await rig.destroy();
    }
  }
  // RSS per added peer, from the largest and smallest runs.
  const ns = PEER_COUNTS.filter((n) => out[n] && !(out[n] as { error?: string }).error);
  if (ns.length >= 2) {
    const lo = out[Math.min(...ns)] as { rssMiB: number };
    const hi = out[Math.max(...ns)] as { rssMiB: number };
    const per = ((hi.rssMiB - lo.rssMiB) * 1024) / (Math.max(...ns) - Math.min(...ns));
    for (const r of rows.slice(1)) r[7] = per.toFixed(0);
  }
  log(
    `\nidle cost of one agent with N connected peers (30 s window; packets through natA from peerA)\n${table(rows)}\n`,
  );
  results.idle = out;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error(
      'chaos bench: needs root (network namespaces). Run: sudo tools/with-node node tools/chaos/dist/bench.js',
    );
    process.exit(1);
  }
  if (PARTS.has('outages')) await outages();
  if (PARTS.has('throughput')) await throughput();
  if (PARTS.has('idle')) await idle();
  console.log(JSON.stringify({ bench: 'chaos', trials: TRIALS, results }));
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
