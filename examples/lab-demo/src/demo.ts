#!/usr/bin/env node
/**
 * The lab smoke demo (issue 2 §5): two wireguard-go peers in peerA and peerB, configured through
 * UapiDevice, each pointing at its PeerEndpoint; the endpoints joined by a plain UDP path across
 * both NATs (port forwards). Prints the handshake, pings through the tunnel, blocks UDP at natA
 * (probes declare the path silent, the handshake watcher fires), unblocks and shows recovery.
 * Exit code 0 when every step was seen; the last line is a JSON summary.
 */
import { fileURLToPath } from 'node:url';
import { onceEvent } from '@mesh/core';
import { generateKeyPair, Lab, type LabProcess, type OutageMonitor } from '@mesh/lab';
import type { PeerAgentConfig } from './peer-agent.js';

const STEP_TIMEOUT_MS = 20_000;
const TUNNEL = { a: '100.64.0.1', b: '100.64.0.2' };
const PATH_PORT = { a: 40_001, b: 40_002 };
const WG_PORT = 51_820;
/** Agent settings: probes every 500 ms, silent after 2 s; first handshake within 6 s; NetBird's 3 min 30 s stale bound. */
const COMMON = {
  wgPort: WG_PORT,
  probeIntervalMs: 500,
  trustWindowMs: 2_000,
  firstHandshakeTimeoutMs: 6_000,
  staleAfterMs: 210_000,
};

const t0 = Date.now();
const say = (msg: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(2).padStart(6)}s] ${msg}`);

const ms = (v: unknown) => `${Math.round(Number(v) * 100) / 100} ms`;

type AgentEvent = { ev: string; at: number } & Record<string, unknown>;
const parse = (line: string): AgentEvent | undefined => {
  try {
    return JSON.parse(line) as AgentEvent;
  } catch {
    return undefined;
  }
};

/** The next event `ev` from an agent after line index `after` (a mark taken before the cause). */
async function next(agent: LabProcess, ev: string, after: number): Promise<AgentEvent> {
  try {
    const line = await agent.waitForLine((l) => parse(l)?.ev === ev, { after, timeoutMs: STEP_TIMEOUT_MS });
    return parse(line)!;
  } catch (e) {
    const tail = [...agent.lines.slice(-10), ...agent.stderrLines.slice(-10)].join('\n  ');
    throw new Error(`${agent.name}: no '${ev}' event within ${STEP_TIMEOUT_MS} ms; its last output:\n  ${tail}`, {
      cause: e,
    });
  }
}
const mark = (agent: LabProcess) => agent.lines.length + agent.linesDropped;

async function pingThroughTunnel(lab: Lab): Promise<string> {
  const r = await lab.execOk('peerA', ['ping', '-c', '3', '-i', '0.2', '-W', '2', TUNNEL.b]);
  return r.stdout.trim().split('\n').slice(-2).join('; ');
}

/** What a failed run prints: both agents' recent output, their counters and `wg show`. */
async function diagnose(lab: Lab, agents: LabProcess[]): Promise<void> {
  for (const a of agents) {
    const m = mark(a);
    a.send({ op: 'stats' });
    await a.waitForLine((l) => parse(l)?.ev === 'stats', { after: m, timeoutMs: 2_000 }).catch(() => {});
    console.log(`--- ${a.name} ---\n${[...a.lines.slice(-12), ...a.stderrLines.slice(-10)].join('\n')}`);
  }
  for (const ns of ['peerA', 'peerB']) {
    const r = await lab.exec(ns, ['wg', 'show', 'all']).catch(() => undefined);
    console.log(`--- wg show (${ns}) ---\n${r?.stdout ?? ''}${r?.stderr ?? ''}`);
  }
}

async function run(lab: Lab): Promise<Record<string, unknown>> {
  const summary: Record<string, unknown> = { runId: lab.runId };
  const ka = generateKeyPair();
  const kb = generateKeyPair();
  const [wgA, wgB] = await Promise.all([
    lab.startWireguardGo('peerA', { address: `${TUNNEL.a}/24` }),
    lab.startWireguardGo('peerB', { address: `${TUNNEL.b}/24` }),
  ]);
  say(`wireguard-go up: ${wgA.ifname} in peerA (${TUNNEL.a}), ${wgB.ifname} in peerB (${TUNNEL.b})`);
  // The plain UDP path crosses both NATs through port forwards: either side may send first.
  await lab.portForward('natA', { wanPort: PATH_PORT.a });
  await lab.portForward('natB', { wanPort: PATH_PORT.b });
  say(
    `UDP path: peerA:${PATH_PORT.a} ⇄ ${lab.addr.natAWan}:${PATH_PORT.a} ⇄ ${lab.addr.natBWan}:${PATH_PORT.b} ⇄ peerB:${PATH_PORT.b}`,
  );

  const agentScript = fileURLToPath(new URL('./peer-agent.js', import.meta.url));
  const configA: PeerAgentConfig = {
    ...COMMON,
    ifname: wgA.ifname,
    privateKey: ka.privateKey,
    peerPublicKey: kb.publicKey,
    pathPort: PATH_PORT.a,
    remoteHost: lab.addr.natBWan,
    remotePort: PATH_PORT.b,
    remoteTunnelCidr: `${TUNNEL.b}/32`,
  };
  const configB: PeerAgentConfig = {
    ...COMMON,
    ifname: wgB.ifname,
    privateKey: kb.privateKey,
    peerPublicKey: ka.publicKey,
    pathPort: PATH_PORT.b,
    remoteHost: lab.addr.natAWan,
    remotePort: PATH_PORT.a,
    remoteTunnelCidr: `${TUNNEL.a}/32`,
  };
  const agentA = lab.spawnNode('peerA', agentScript, [JSON.stringify(configA)], { name: 'agent-A' });
  const agentB = lab.spawnNode('peerB', agentScript, [JSON.stringify(configB)], { name: 'agent-B' });
  try {
    return await steps(lab, agentA, agentB, summary);
  } catch (e) {
    await diagnose(lab, [agentA, agentB]);
    throw e;
  }
}

async function steps(lab: Lab, agentA: LabProcess, agentB: LabProcess, summary: Record<string, unknown>) {
  const [readyA] = await Promise.all([next(agentA, 'ready', 0), next(agentB, 'ready', 0)]);
  say(`UapiDevice configured both peers; WireGuard's endpoint for the remote is its PeerEndpoint ${readyA.endpoint}`);

  // 1. handshake and ping. Only A initiates: two initiations crossing on the wire cancel each other
  // (each side's response no longer matches the other's state) until WireGuard's jittered retry.
  agentA.send({ op: 'start' });
  const [hsA] = await Promise.all([next(agentA, 'handshake', 0), next(agentB, 'handshake', 0)]);
  say(`handshake seen by both watchers (${new Date(hsA.lastHandshakeAt as number).toISOString()})`);
  agentB.send({ op: 'start' }); // B keeps its NAT mapping warm too, now that a session exists
  const alive = await next(agentA, 'path-alive', 0);
  say(`probes: path alive (via ${alive.via}${alive.rttMs === null ? '' : `, rtt ${ms(alive.rttMs)}`})`);
  say(`ping through the tunnel: ${await pingThroughTunnel(lab)}`);

  const mon: OutageMonitor = lab.startOutageMonitor('peerA', TUNNEL.b, { intervalMs: 100 });
  await onceEvent(mon, 'probe', { filter: (p) => p.received, timeoutMs: STEP_TIMEOUT_MS });

  // 2. block UDP at natA
  let m = mark(agentA);
  const blockedAt = Date.now();
  await lab.blockUdp('natA', true);
  say('blocked UDP at natA');
  const silent = await next(agentA, 'path-silent', m);
  summary.silentAfterMs = silent.at - blockedAt;
  say(`probes: path SILENT ${summary.silentAfterMs} ms after the block (trust window ${COMMON.trustWindowMs} ms)`);
  m = mark(agentA);
  agentA.send({ op: 'rekey' }); // drop the session: WireGuard must handshake, and cannot
  const fired = await next(agentA, 'handshake-timeout', m);
  summary.watcherFiredAfterMs = fired.at - blockedAt;
  summary.watcherReason = fired.reason;
  say(`handshake watcher FIRED: ${fired.reason} (${fired.detail})`);

  // 3. unblock and recover
  m = mark(agentA);
  const unblockedAt = Date.now();
  await lab.blockUdp('natA', false);
  say('unblocked UDP at natA');
  const back = await next(agentA, 'path-alive', m);
  summary.aliveAfterMs = back.at - unblockedAt;
  say(
    `probes: path alive again ${summary.aliveAfterMs} ms after unblocking (via ${back.via}${back.rttMs === null ? '' : `, rtt ${ms(back.rttMs)}`})`,
  );
  m = mark(agentA);
  agentA.send({ op: 'rekey' }); // re-arm the watcher and make WireGuard handshake now
  await next(agentA, 'handshake', m);
  summary.handshakeAfterMs = Date.now() - unblockedAt;
  say(`handshake again ${summary.handshakeAfterMs} ms after unblocking`);
  if (mon.inOutage) await onceEvent(mon, 'outage-end', { timeoutMs: STEP_TIMEOUT_MS });
  const report = await mon.stop();
  for (const o of report.outages) say(`tunnel outage: ${o.durationMs} ms, ${o.lost} pings lost`);
  say(`ping through the tunnel: ${await pingThroughTunnel(lab)}`);
  summary.outages = report.outages;
  summary.pings = { sent: report.sent, received: report.received, lost: report.lost };
  return summary;
}

async function main(): Promise<void> {
  say('building the lab (root needed)…');
  const lab = await Lab.create({ natA: 'cone', natB: 'cone' });
  say(
    `lab ${lab.runId}: peerA ${lab.addr.peerA} – natA ${lab.addr.natAWan} – inet – natB ${lab.addr.natBWan} – peerB ${lab.addr.peerB}`,
  );
  try {
    const summary = await run(lab);
    say('demo passed');
    console.log(JSON.stringify({ ok: true, ...summary }));
  } finally {
    await lab.destroy();
    say('lab torn down');
  }
}

main().catch((e: unknown) => {
  say(`demo FAILED: ${e instanceof Error ? e.message : String(e)}`);
  console.log(JSON.stringify({ ok: false, error: e instanceof Error ? e.message : String(e) }));
  process.exitCode = 1;
});
