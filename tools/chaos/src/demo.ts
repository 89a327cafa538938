#!/usr/bin/env node
/**
 * The mesh demo (issue 6 §3; `sudo tools/mesh demo`): builds the lab, starts the relay server,
 * the signaling server and coturn in svc and one real `mesh-agent` in each of peerA and peerB,
 * shows a live status table, then plays the seed's story — the peers connect (ICE direct); natA's
 * public IP is rotated and its conntrack flushed; the relay server is restarted; UDP is blocked,
 * then unblocked — and prints a timeline with the outages measured by a ping through the tunnel.
 * Tears everything down at the end (and on Ctrl-C). Exit 0 when every step recovered.
 */
import type { Outage, OutageMonitor } from '@mesh/lab';
import { OVERLAY, Rig, ROLES, waitProbes } from './rig.js';
import type { AgentStatus } from './status.js';

const STEP_TIMEOUT_MS = 60_000;
const t0 = Date.now();
const clock = (at = Date.now()) => `${((at - t0) / 1000).toFixed(1).padStart(6)}s`;
const say = (msg: string) => console.log(`[${clock()}] ${msg}`);

interface Step {
  name: string;
  startAt: number;
  recoveredAt?: number;
  outages: Outage[];
  note?: string;
}

function notRoot(): never {
  console.error('mesh demo: the demo builds network namespaces, NATs and WireGuard interfaces, which needs root.');
  console.error('mesh demo: run:  sudo tools/mesh demo');
  console.error('mesh demo: without root, `tools/mesh test` runs everything except the lab.');
  process.exit(1);
}

const ago = (iso: string | null) => (iso ? `${Math.round((Date.now() - Date.parse(iso)) / 1000)}s ago` : 'never');
const kib = (n: number) => (n < 10_240 ? `${n} B` : `${(n / 1024).toFixed(0)} KiB`);

/** One compact row per agent: what `mesh-agent status` says about its one peer. */
function statusTable(rows: [string, AgentStatus | Error][]): string {
  const head = ['agent', 'relay', 'path', 'handshake', 'rx', 'tx', 'offers', 'tear-downs', 'recoveries'];
  const cells = rows.map(([name, st]) => {
    if (st instanceof Error) return [name, '-', `(status: ${st.message})`, '', '', '', '', '', ''];
    const p = st.peers[0];
    return [
      name,
      st.self.relay.connected ? 'up' : 'down',
      p?.path ?? '-',
      ago(p?.lastHandshakeAt ?? null),
      kib(p?.rxBytes ?? 0),
      kib(p?.txBytes ?? 0),
      String(p?.counters.offersSent ?? '-'),
      String(p?.counters.relayTeardowns ?? '-'),
      String(p?.counters.recoveries ?? '-'),
    ];
  });
  const all = [head, ...cells];
  const w = head.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  return all.map((r) => `          │ ${r.map((c, i) => c.padEnd(w[i]!)).join('  ')}`).join('\n');
}

async function printStatus(rig: Rig): Promise<void> {
  const rows: [string, AgentStatus | Error][] = [];
  for (const role of ROLES) rows.push([role, await rig.status(role).catch((e: Error) => e)]);
  console.log(statusTable(rows));
}

/** Prints the status table every `everyMs` until stopped: the "live" view while a step runs. */
function liveStatus(rig: Rig, everyMs = 4_000): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void printStatus(rig).finally(() => {
      busy = false;
    });
  }, everyMs);
  return () => clearInterval(timer);
}

async function main(): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) notRoot();
  say('building the lab: peerA ─ natA ─ inet ─ natB ─ peerB, svc: mesh-relay, mesh-signal, coturn');
  const rig = await Rig.create({ start: 'none' });
  const steps: Step[] = [];
  let mon: OutageMonitor | undefined;
  let stopLive = () => {};
  let ok = false;
  try {
    say(`lab ${rig.lab.runId} up; starting mesh-agent in peerA (${OVERLAY.peerA}) and peerB (${OVERLAY.peerB})`);
    await Promise.all(ROLES.map((r) => rig.startAgent(r)));
    stopLive = liveStatus(rig);

    const connect: Step = { name: 'peers connect', startAt: Date.now(), outages: [] };
    steps.push(connect);
    await Promise.all(ROLES.map((r) => rig.waitPath(r, 'ice-direct', { timeoutMs: STEP_TIMEOUT_MS })));
    say('both agents: path ice-direct (ICE through both NATs)');
    mon = rig.monitor(100);
    connect.recoveredAt = await waitProbes(mon, 1, 0, STEP_TIMEOUT_MS);
    say(`first ping through the tunnel ${((connect.recoveredAt - connect.startAt) / 1000).toFixed(1)} s after start`);
    await printStatus(rig);

    /** Runs one fault, waits for 10 answered probes in a row after it, and keeps its outages. */
    const step = async (name: string, fault: () => Promise<void>, note?: string) => {
      await waitProbes(mon!, 20, Date.now(), STEP_TIMEOUT_MS); // start from a steady tunnel
      const s: Step = { name, startAt: Date.now(), outages: [], ...(note ? { note } : {}) };
      steps.push(s);
      say(`▶ ${name}`);
      await fault();
      s.recoveredAt = await waitProbes(mon!, 10, Date.now(), STEP_TIMEOUT_MS);
      await waitProbes(mon!, 20, s.recoveredAt, STEP_TIMEOUT_MS);
      s.outages = mon!.outages().filter((o) => o.startAt >= s.startAt - 100);
      const total = s.outages.reduce((a, o) => a + (o.durationMs ?? 0), 0);
      say(`  tunnel carries traffic again; outage ${(total / 1000).toFixed(2)} s`);
      await printStatus(rig);
    };

    await step('natA: public IP rotated + conntrack flushed', async () => {
      const to = await rig.lab.rotatePublicIp('natA');
      await rig.lab.conntrackFlush('natA');
      say(`  natA WAN is now ${to}; every NAT mapping is gone`);
    });
    await step(
      'relay server restarted (SIGTERM, back after 2 s)',
      async () => {
        await rig.stopRelay(0, 'SIGTERM');
        say('  relay down');
        const down = Date.now();
        await waitProbes(mon!, 20, down, STEP_TIMEOUT_MS); // 2 s of answered probes while it is down
        await rig.startRelay(0);
        say('  relay up again');
      },
      'the peers are direct: the relay is only a standby',
    );
    await step('UDP blocked at natA (peer↔peer), relay reachable', async () => {
      const mark = rig.mark('peerA');
      await rig.lab.blockUdp('natA', true);
      const ev = await rig.waitPath('peerA', 'relay', { after: mark, timeoutMs: STEP_TIMEOUT_MS });
      say(`  peerA: path ${ev.from} → relay (${ev.reason ?? ''})`);
    });
    await step('UDP unblocked', async () => {
      const mark = rig.mark('peerA');
      await rig.lab.blockUdp('natA', false);
      const t = Date.now();
      await rig.waitPath('peerA', ['ice-direct'], { after: mark, timeoutMs: 120_000 });
      say(`  peerA: back on ice-direct ${((Date.now() - t) / 1000).toFixed(1)} s after UDP returned`);
    });
    stopLive();
    const report = await mon.stop();

    console.log('\ntimeline (outages measured by a 100 ms ping from peerA to peerB through the tunnel)');
    for (const s of steps) {
      const total = s.outages.reduce((a, o) => a + (o.durationMs ?? 0), 0);
      const rec = s.recoveredAt ? `${((s.recoveredAt - s.startAt) / 1000).toFixed(2)} s to steady` : 'no recovery';
      console.log(
        `  [${clock(s.startAt)}] ${s.name.padEnd(48)} outage ${(total / 1000).toFixed(2).padStart(6)} s  (${rec})`,
      );
      if (s.note) console.log(`  ${' '.repeat(10)}${s.note}`);
    }
    const c = await rig.counters();
    console.log(
      `\nping: ${report.sent} sent, ${report.received} answered; both agents: ${c.offersSent} offers, ${c.relayTeardowns} relay tear-downs, ${c.recoveries} recoveries`,
    );
    console.log(
      JSON.stringify({
        steps: steps.map((s) => ({
          step: s.name,
          outageMs: s.outages.reduce((a, o) => a + (o.durationMs ?? 0), 0),
          recoveredAfterMs: s.recoveredAt ? s.recoveredAt - s.startAt : null,
        })),
        counters: c,
      }),
    );
    ok = true;
  } catch (err) {
    console.error(`\nmesh demo failed: ${(err as Error).message}\n${rig.tail(20)}`);
  } finally {
    stopLive();
    await mon?.stop();
    say('tearing down: agents (they remove their interfaces), servers, namespaces');
    await rig.destroy();
    say(ok ? 'done' : 'done (with a failure, see above)');
  }
  process.exit(ok ? 0 : 1);
}

void main();
