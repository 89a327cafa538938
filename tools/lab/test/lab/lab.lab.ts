import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasCode, onceEvent } from '@mesh/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupLeftoverLabs, generateKeyPair, Lab, type UdpAgent } from '../../src/index.js';
import { recordPath } from '../../src/registry.js';

/** Polls `fn` until it returns a truthy value; bounded in time (there is no event for a kernel counter). */
async function waitUntil<T>(fn: () => Promise<T>, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 1_000; i++) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A process exists and is not a zombie (orphans are reparented to a PID 1 that may never reap them). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Packet counter of the first rule in `chain` whose line contains `match`. */
async function ruleCount(lab: Lab, ns: string, chain: string, match: string): Promise<number> {
  const r = await lab.execOk(ns, ['iptables', '-w', '10', '-L', chain, '-v', '-x', '-n']);
  const line = r.stdout.split('\n').find((l) => l.includes(match));
  if (!line) throw new Error(`no rule matching ${match} in ${chain}:\n${r.stdout}`);
  return Number(line.trim().split(/\s+/)[0]);
}

/** Sends from `agent` and proves the NAT dropped it: the rule's packet counter moves. */
async function sendDropped(
  lab: Lab,
  agent: UdpAgent,
  host: string,
  port: number,
  nat: string,
  chain: string,
  match: string,
) {
  const before = await ruleCount(lab, nat, chain, match);
  agent.send(host, port, 'should-not-arrive');
  await waitUntil(async () => (await ruleCount(lab, nat, chain, match)) > before, `${chain} drop in ${nat}`);
}

const INPUT_DROP = 'ctstate NEW';
const notArrived = (a: UdpAgent) => !a.pending.some((d) => d.data === 'should-not-arrive');

function pingRtt(stdout: string): number {
  const m = /time=([\d.]+) ms/.exec(stdout);
  if (!m) throw new Error(`no rtt in ${stdout}`);
  return Number(m[1]);
}

describe('lab with cone NATs', () => {
  let lab: Lab;
  let agentA: UdpAgent;
  let agentB: UdpAgent;
  let agentSvc: UdpAgent;

  beforeAll(async () => {
    lab = await Lab.create({ natA: 'cone', natB: 'cone' });
    [agentA, agentB, agentSvc] = await Promise.all([
      lab.startUdpAgent('peerA', { port: 4000 }),
      lab.startUdpAgent('peerB', { port: 5000 }),
      lab.startUdpAgent('svc', { port: 3479 }),
    ]);
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('names every namespace with the run id; peers reach svc through their NATs', async () => {
    expect(lab.ns.peerA).toBe(`m${lab.runId}-peerA`);
    const list = (await lab.execOk('inet', ['ip', 'netns', 'list'])).stdout;
    for (const n of Object.values(lab.ns)) expect(list).toContain(n);
    await lab.execOk('peerA', ['ping', '-c1', '-W2', lab.addr.svc]);
    await lab.execOk('peerB', ['ping', '-c1', '-W2', lab.addr.svc]);
    // in-namespace names are not veth*/tun*/tap* (werift skips those)
    expect((await lab.execOk('peerA', ['ip', '-o', 'link'])).stdout).toMatch(/\beth0@/);
  });

  it('svc sees peerA from natA’s WAN address, with the source port kept (cone)', async () => {
    agentA.send(lab.addr.svc, 3479, 'srflx');
    const d = await agentSvc.receive((x) => x.data === 'srflx');
    expect(d).toEqual({ from: lab.addr.natAWan, port: 4000, data: 'srflx' });
  });

  it('peer↔peer UDP: unsolicited is dropped at the NAT; after hole punching it flows both ways', async () => {
    await sendDropped(lab, agentA, lab.addr.natBWan, 5000, 'natB', 'INPUT', INPUT_DROP);
    expect(notArrived(agentB)).toBe(true);
    // B punches towards A's mapping; natA has A's outbound entry, so B's packet is its reply.
    agentB.send(lab.addr.natAWan, 4000, 'punch');
    expect(await agentA.receive((x) => x.data === 'punch')).toEqual({
      from: lab.addr.natBWan,
      port: 5000,
      data: 'punch',
    });
    agentA.send(lab.addr.natBWan, 5000, 'hello-b');
    expect(await agentB.receive((x) => x.data === 'hello-b')).toEqual({
      from: lab.addr.natAWan,
      port: 4000,
      data: 'hello-b',
    });
  });

  it('a port forward lets unsolicited UDP in; removed and flushed, it is dropped again', async () => {
    const c = await lab.startUdpAgent('peerB', { port: 6000 });
    const fwd = await lab.portForward('natB', { wanPort: 6000 });
    agentA.send(lab.addr.natBWan, 6000, 'via-forward');
    expect(await c.receive((x) => x.data === 'via-forward')).toMatchObject({ from: lab.addr.natAWan });
    await fwd.remove();
    await lab.conntrackFlush('natB'); // the forwarded flow's conntrack entry would keep it working
    await sendDropped(lab, agentA, lab.addr.natBWan, 6000, 'natB', 'INPUT', INPUT_DROP);
    expect(notArrived(c)).toBe(true);
    await c.stop();
  });

  it('blockUdp stops peer↔peer UDP but not UDP, ICMP or TCP to svc; unblocking restores it', async () => {
    const tcp = lab.spawn('svc', [
      process.execPath,
      '-e',
      "require('net').createServer((s) => s.end('tcp-ok')).listen(8080, () => console.log('listening'))",
    ]);
    await tcp.waitForLine(/listening/);
    // (re-)punch so the A↔B flow exists
    agentB.send(lab.addr.natAWan, 4000, 'punch2');
    await agentA.receive((x) => x.data === 'punch2');
    await lab.blockUdp('natA', true);
    await lab.blockUdp('natA', true); // idempotent
    await sendDropped(lab, agentA, lab.addr.natBWan, 5000, 'natA', 'FORWARD', 'meshlab-block-udp');
    agentA.send(lab.addr.svc, 3479, 'svc-still-reachable');
    await agentSvc.receive((x) => x.data === 'svc-still-reachable');
    await lab.execOk('peerA', ['ping', '-c1', '-W2', lab.addr.svc]);
    const client = "require('net').connect(8080, process.argv[1]).on('data', (d) => process.stdout.write(d))";
    const r = await lab.execOk('peerA', [process.execPath, '-e', client, lab.addr.svc]);
    expect(r.stdout).toBe('tcp-ok');
    await lab.blockUdp('natA', false);
    agentA.send(lab.addr.natBWan, 5000, 'after-unblock');
    await agentB.receive((x) => x.data === 'after-unblock');
    expect(notArrived(agentB)).toBe(true);
    await tcp.stop();
  });

  it('dropDirection drops one direction only, sparing svc', async () => {
    await lab.dropDirection('natA', 'outbound', true, { proto: 'udp' });
    await sendDropped(lab, agentA, lab.addr.natBWan, 5000, 'natA', 'FORWARD', 'meshlab-drop-outbound');
    agentA.send(lab.addr.svc, 3479, 'outbound-svc');
    await agentSvc.receive((x) => x.data === 'outbound-svc');
    // inbound still passes: B → A over the existing flow
    agentB.send(lab.addr.natAWan, 4000, 'inbound-ok');
    await agentA.receive((x) => x.data === 'inbound-ok');
    await lab.dropDirection('natA', 'outbound', false, { proto: 'udp' });
  });

  it('dropStun drops STUN between the peers only; udpLoss drops peer UDP at random; svc is spared', async () => {
    const stunDrops = () => ruleCount(lab, 'natA', 'FORWARD', 'meshlab-drop-stun');
    agentA.send(lab.addr.natBWan, 5000, 'open-natA'); // natA's mapping, for B's punch
    agentB.send(lab.addr.natAWan, 4000, 'punch3');
    await agentA.receive((x) => x.data === 'punch3');
    await lab.dropStun('natA', true);
    await lab.dropStun('natA', true); // idempotent
    // a STUN request to the peer is dropped; plain datagrams on the same flow still pass
    void agentA.stun(lab.addr.natBWan, 5000, { timeoutMs: 500 }).catch(() => undefined);
    await waitUntil(async () => (await stunDrops()) === 1, 'the STUN drop');
    agentA.send(lab.addr.natBWan, 5000, 'not-stun');
    await agentB.receive((x) => x.data === 'not-stun');
    // STUN to svc passes: once a datagram sent after it has arrived, the counter has not moved
    void agentA.stun(lab.addr.svc, 3479, { timeoutMs: 500 }).catch(() => undefined);
    agentA.send(lab.addr.svc, 3479, 'after-stun-to-svc');
    await agentSvc.receive((x) => x.data === 'after-stun-to-svc');
    expect(await stunDrops()).toBe(1);
    await lab.dropStun('natA', false);

    const lossRules = async () =>
      (await lab.execOk('natA', ['iptables', '-w', '10', '-S', 'FORWARD'])).stdout
        .split('\n')
        .filter((l) => l.includes('meshlab-udp-loss'));
    await lab.udpLoss('natA', true, { lossPct: 100 });
    await sendDropped(lab, agentA, lab.addr.natBWan, 5000, 'natA', 'FORWARD', 'meshlab-udp-loss');
    agentA.send(lab.addr.svc, 3479, 'loss-spares-svc');
    await agentSvc.receive((x) => x.data === 'loss-spares-svc');
    await lab.udpLoss('natA', true, { lossPct: 30 }); // replaces the rule
    expect(await lossRules()).toEqual([expect.stringMatching(/--probability 0\.(3|29)/)]);
    await lab.udpLoss('natA', false);
    expect(await lossRules()).toEqual([]);
    agentA.send(lab.addr.natBWan, 5000, 'after-loss');
    await agentB.receive((x) => x.data === 'after-loss');
    expect(notArrived(agentB)).toBe(true);
  });

  it('conntrackFlush removes the NAT mappings: the punched flow is dropped until B punches again', async () => {
    const entries = async () => (await lab.execOk('natB', ['conntrack', '-L', '-p', 'udp'])).stdout;
    await waitUntil(async () => (await entries()).includes('dport=4000'), 'the A↔B conntrack entry');
    await lab.conntrackFlush('natB');
    expect(await entries()).not.toContain('dport=4000');
    await sendDropped(lab, agentA, lab.addr.natBWan, 5000, 'natB', 'INPUT', INPUT_DROP);
    agentB.send(lab.addr.natAWan, 4000, 'repunch');
    await agentA.receive((x) => x.data === 'repunch');
    agentA.send(lab.addr.natBWan, 5000, 'after-repunch');
    await agentB.receive((x) => x.data === 'after-repunch');
  });

  it('netem: loss cuts a link and is removed again; delay works where the kernel has netem', async () => {
    const ping = () => lab.exec('peerA', ['ping', '-c1', '-W1', lab.addr.svc]);
    await lab.netem('natA', lab.dev.natWan, { lossPct: 100 });
    expect((await ping()).code).not.toBe(0);
    await lab.netem('natA', lab.dev.natWan, null);
    await lab.netem('natA', lab.dev.natWan, null); // removing twice is fine
    expect((await ping()).code).toBe(0);
    if (await lab.netemSupported()) {
      await lab.netem('natA', lab.dev.natWan, { delayMs: 100 });
      const slow = pingRtt((await lab.execOk('peerA', ['ping', '-c1', '-W3', lab.addr.svc])).stdout);
      await lab.netem('natA', lab.dev.natWan, null);
      expect(slow).toBeGreaterThanOrEqual(100);
    } else {
      const err = await lab.netem('natA', lab.dev.natWan, { delayMs: 100 }).catch((e: unknown) => e);
      expect(hasCode(err, 'ERR_LAB_UNSUPPORTED')).toBe(true);
    }
    const fast = pingRtt((await lab.execOk('peerA', ['ping', '-c1', '-W3', lab.addr.svc])).stdout);
    expect(fast).toBeLessThan(50);
  });

  it('linkDown cuts a peer off; linkUp restores the link and its default route', async () => {
    await lab.linkDown('peerA', lab.dev.peer);
    expect((await lab.exec('peerA', ['ping', '-c1', '-W1', lab.addr.svc])).code).not.toBe(0);
    await lab.linkUp('peerA', lab.dev.peer);
    await waitUntil(
      async () => (await lab.exec('peerA', ['ping', '-c1', '-W1', lab.addr.svc])).code === 0,
      'ping after linkUp',
    );
  });

  it('rotatePublicIp changes the source address svc sees', async () => {
    const old = lab.addr.natAWan;
    const next = await lab.rotatePublicIp('natA');
    expect(next).not.toBe(old);
    expect(lab.addr.natAWan).toBe(next);
    agentA.send(lab.addr.svc, 3479, 'after-rotate');
    expect(await agentSvc.receive((x) => x.data === 'after-rotate')).toMatchObject({ from: next });
    await lab.execOk('peerA', ['ping', '-c1', '-W2', lab.addr.svc]);
  });

  it('coturn answers STUN with the NAT’s public address', async () => {
    const turn = await lab.startCoturn({ user: 'u', password: 'p', realm: 'mesh' });
    expect(turn.stunUrl).toBe(`stun:${lab.addr.svc}:3478`);
    const mapped = await agentA.stun(lab.addr.svc, 3478);
    expect(mapped).toEqual({ address: lab.addr.natAWan, port: 4000 });
    const r = await lab.exec('peerB', ['turnutils_stunclient', '-p', '3478', lab.addr.svc]);
    expect(r.stdout + r.stderr).toContain(`reflexive addr: ${lab.addr.natBWan}:`);
    await turn.stop();
  });

  it('wireguard-go tunnel between peerA and peerB; the outage monitor sees a UDP block and its end', async () => {
    const ka = generateKeyPair();
    const kb = generateKeyPair();
    const [wa, wb] = await Promise.all([
      lab.startWireguardGo('peerA', { address: '100.64.0.1/24', listenPort: 51821, privateKey: ka.privateKey }),
      lab.startWireguardGo('peerB', { address: '100.64.0.2/24', listenPort: 51820, privateKey: kb.privateKey }),
    ]);
    expect(existsSync(wa.uapiSocket)).toBe(true);
    expect(wa.ifname).not.toBe(wb.ifname);
    await lab.portForward('natB', { wanPort: 51820 });
    const endpoint = `${lab.addr.natBWan}:51820`;
    const addPeerB = [
      'wg',
      'set',
      wa.ifname,
      'peer',
      kb.publicKey,
      'endpoint',
      endpoint,
      'allowed-ips',
      '100.64.0.2/32',
    ];
    await lab.execOk('peerA', addPeerB);
    await lab.execOk('peerB', ['wg', 'set', wb.ifname, 'peer', ka.publicKey, 'allowed-ips', '100.64.0.1/32']);
    await lab.execOk('peerA', ['ping', '-c1', '-W5', '100.64.0.2']);
    // WireGuard never carries STUN's cookie where dropStun looks: a handshake and data pass it untouched
    await lab.dropStun('natA', true);
    await lab.execOk('peerA', ['wg', 'set', wa.ifname, 'peer', kb.publicKey, 'remove']);
    await lab.execOk('peerA', addPeerB); // no session: the next packet starts a handshake
    await lab.execOk('peerA', ['ping', '-c3', '-i', '0.2', '-W5', '100.64.0.2']);
    expect(await ruleCount(lab, 'natA', 'FORWARD', 'meshlab-drop-stun')).toBe(0);
    await lab.dropStun('natA', false);
    // our generated keys are what wg derives
    expect((await lab.execOk('peerB', ['wg', 'show', wb.ifname, 'public-key'])).stdout.trim()).toBe(kb.publicKey);

    const mon = lab.startOutageMonitor('peerA', '100.64.0.2', { intervalMs: 100 });
    await onceEvent(mon, 'probe', { filter: (p) => p.received, timeoutMs: 5_000 });
    await lab.blockUdp('natA', true);
    const blockedAt = Date.now();
    const [start] = await onceEvent(mon, 'outage-start', { timeoutMs: 5_000 });
    expect(start.startAt).toBeGreaterThanOrEqual(blockedAt - 250);
    await lab.blockUdp('natA', false);
    const unblockedAt = Date.now();
    const [end] = await onceEvent(mon, 'outage-end', { timeoutMs: 5_000 });
    expect(end.endAt!).toBeGreaterThanOrEqual(unblockedAt - 250);
    expect(end.durationMs!).toBeGreaterThan(800);
    expect(end.lost).toBeGreaterThan(5);

    // a paused wireguard-go is an outage too; resumed, traffic flows again
    wb.process.pause();
    await onceEvent(mon, 'outage-start', { timeoutMs: 5_000 });
    wb.process.resume();
    await onceEvent(mon, 'outage-end', { timeoutMs: 5_000 });

    const report = await mon.stop();
    expect(report.outages).toHaveLength(2);
    expect(report.received).toBeGreaterThan(0);
    expect(report.sent).toBe(report.received + report.lost);
    console.log(JSON.stringify({ outageReport: report }));
    await wa.stop();
    expect(existsSync(wa.uapiSocket)).toBe(false);
  });

  it('processes: output lines, exit before a line, restart; bad namespaces are refused', async () => {
    const p = lab.spawn('peerA', ['sh', '-c', 'echo one; read x; echo "got $x"; exit 3']);
    await p.waitForLine(/one/);
    p.send({ hi: 1 });
    expect(await p.waitForLine(/^got /)).toBe('got {"hi":1}');
    expect(await p.exited).toEqual({ code: 3, signal: null });
    const late = await p.waitForLine(/never/).catch((e: unknown) => e);
    expect(hasCode(late, 'ERR_LAB_PROCESS_EXITED')).toBe(true);
    const timeout = await agentA.process.waitForLine(/never/, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(hasCode(timeout, 'ERR_LAB_TIMEOUT')).toBe(true);

    const s = lab.spawn('peerB', ['sleep', '60']);
    const s2 = await lab.restart(s, 500);
    expect(s.exitStatus?.signal).toBe('SIGTERM');
    expect(s2.running).toBe(true);
    s2.kill('SIGKILL');
    expect((await s2.exited).signal).toBe('SIGKILL');

    expect(() => lab.spawn('peerC', ['true'])).toThrow(/not a namespace/);
    await expect(lab.exec('mzzzz-peerA', ['true'])).rejects.toThrow(/not a namespace/);
    const fail = await lab.execOk('peerA', ['sh', '-c', 'echo nope >&2; exit 2']).catch((e: unknown) => e);
    expect(hasCode(fail, 'ERR_LAB_COMMAND_FAILED')).toBe(true);
    expect((fail as { stderr: string }).stderr).toBe('nope\n');
  });
});

describe('lab with a symmetric NAT', () => {
  it('maps each destination to a different source port, and destroy leaves nothing behind', async () => {
    const lab = await Lab.create({ natA: 'symmetric', natB: 'cone' });
    let pids: number[] = [];
    let socket = '';
    try {
      const [a, s1, s2] = await Promise.all([
        lab.startUdpAgent('peerA', { port: 4000 }),
        lab.startUdpAgent('svc', { port: 7001 }),
        lab.startUdpAgent('svc', { port: 7002 }),
      ]);
      a.send(lab.addr.svc, 7001, 'one');
      a.send(lab.addr.svc, 7002, 'two');
      const d1 = await s1.receive();
      const d2 = await s2.receive();
      expect(d1.from).toBe(lab.addr.natAWan);
      expect(d2.from).toBe(lab.addr.natAWan);
      expect(d1.port).not.toBe(d2.port);
      // the NAT's STUN view differs from the port a third party sees: srflx is useless here
      const turn = await lab.startCoturn();
      const mapped = await a.stun(lab.addr.svc, 3478);
      expect([d1.port, d2.port]).not.toContain(mapped.port);

      const wg = await lab.startWireguardGo('peerB', { address: '100.64.0.2/24' });
      socket = wg.uapiSocket;
      pids = [a.process.pid, s1.process.pid, turn.process.pid, wg.process.pid];
      // a process that ignores SIGTERM is still removed
      pids.push(lab.spawn('natA', ['sh', '-c', 'trap "" TERM; sleep 60']).pid);
    } finally {
      await lab.destroy();
    }
    await lab.destroy(); // idempotent
    const list = execFileSync('ip', ['netns', 'list'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(list).not.toContain(`m${lab.runId}-`);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect(existsSync(socket)).toBe(false);
    expect(existsSync(recordPath(lab.runId))).toBe(false);
    await expect(lab.exec('peerA', ['true'])).rejects.toMatchObject({ code: 'ERR_LAB_DESTROYED' });
  });
});

describe('lab with a second uplink', () => {
  it('only when asked for: natC and eth1 exist with uplinks: 2', async () => {
    const lab = await Lab.create();
    try {
      expect(lab.ns.natC).toBeUndefined();
      expect(() => lab.resolveNs('natC')).toThrow(/uplinks: 2/);
      await expect(lab.roam('peerA', 2)).rejects.toMatchObject({ code: 'ERR_LAB_INVALID' });
      expect((await lab.exec('peerA', ['ip', 'link', 'show', 'eth1'])).code).not.toBe(0);
    } finally {
      await lab.destroy();
    }
  });

  it('peerA roams to natC (new address, NAT and public address; the old link gone) and back; destroy removes natC', async () => {
    const lab = await Lab.create({ uplinks: 2 });
    const inet = async (dev: string) => {
      const out = (await lab.execOk('peerA', ['ip', '-o', '-4', 'addr', 'show', 'dev', dev])).stdout;
      const state = (await lab.execOk('peerA', ['ip', '-o', 'link', 'show', 'dev', dev])).stdout;
      return { addr: /inet ([\d.]+)/.exec(out)?.[1] ?? null, up: /[<,]UP[,>]/.test(state) };
    };
    try {
      expect(lab.ns.natC).toBe(`m${lab.runId}-natC`);
      expect(await inet('eth1')).toEqual({ addr: null, up: false });
      const svc = await lab.startUdpAgent('svc', { port: 3479 });
      const a = await lab.startUdpAgent('peerA', { port: 4000 });
      const seenFrom = async (data: string) => {
        a.send(lab.addr.svc, 3479, data);
        return (await svc.receive((x) => x.data === data)).from;
      };
      expect(await seenFrom('uplink-1')).toBe(lab.addr.natAWan);

      await lab.roam('peerA', 2);
      expect(lab.uplink('peerA')).toBe(2);
      expect(await inet('eth1')).toEqual({ addr: lab.addr.peerA2, up: true });
      expect(await inet('eth0')).toEqual({ addr: null, up: false });
      expect(await seenFrom('uplink-2')).toBe(lab.addr.natCWan);
      await lab.roam('peerA', 2); // already there
      // natC is a home router like the others: unsolicited inbound UDP is dropped
      expect((await lab.execOk('natC', ['iptables', '-w', '10', '-S', 'INPUT'])).stdout).toContain('NEW -j DROP');

      await lab.roam('peerA', 1);
      expect(await inet('eth0')).toEqual({ addr: lab.addr.peerA, up: true });
      expect(await inet('eth1')).toEqual({ addr: null, up: false });
      expect(await seenFrom('uplink-1-again')).toBe(lab.addr.natAWan);
      await expect(lab.roam('peerA', 3)).rejects.toMatchObject({ code: 'ERR_LAB_INVALID' });
    } finally {
      await lab.destroy();
    }
    const list = execFileSync('ip', ['netns', 'list'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(list).not.toContain(`m${lab.runId}-`);
  });
});

describe('a lab that fails while being built', () => {
  it('removes everything it built (abort in the middle of create)', async () => {
    const runId = `a${Math.floor(Math.random() * 1e6)}`;
    const ac = new AbortController();
    // Abort as soon as our first namespace exists: create is then ~50 commands from done.
    const watcher = watch('/run/netns', (_e, file) => {
      if (String(file).startsWith(`m${runId}-`)) ac.abort();
    });
    try {
      const err = await Lab.create({ runId, signal: ac.signal }).catch((e: unknown) => e);
      expect(hasCode(err, 'ERR_ABORTED')).toBe(true);
    } finally {
      watcher.close();
    }
    expect(ac.signal.aborted).toBe(true);
    const list = execFileSync('ip', ['netns', 'list'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(list).not.toContain(`m${runId}-`);
    expect(existsSync(recordPath(runId))).toBe(false);
  });

  it('refuses a run id that is in use, without touching its lab', async () => {
    const lab = await Lab.create();
    try {
      const err = await Lab.create({ runId: lab.runId }).catch((e: unknown) => e);
      expect(hasCode(err, 'ERR_LAB_INVALID')).toBe(true);
      await lab.execOk('peerA', ['ping', '-c1', '-W2', lab.addr.svc]);
    } finally {
      await lab.destroy();
    }
  });
});

describe('teardown when the owner dies', () => {
  const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mesh-lab-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A child process that builds a lab (with a process in it), says `up`, then does `mode`. */
  function child(mode: 'throw' | 'wait', runId: string) {
    const script = join(dir, `${runId}.mjs`);
    writeFileSync(
      script,
      `import { Lab } from ${JSON.stringify(dist)};
       const lab = await Lab.create({ runId: ${JSON.stringify(runId)} });
       const sleeper = lab.spawn('peerA', ['sleep', '600']);
       console.log('up ' + sleeper.pid);
       if (${JSON.stringify(mode)} === 'throw') throw new Error('test failed mid-way');
       setInterval(() => {}, 1000);`,
    );
    const p = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const up = new Promise<number>((resolve, reject) => {
      p.stdout.on('data', (b: Buffer) => {
        const m = /up (\d+)/.exec(b.toString());
        if (m) resolve(Number(m[1]));
      });
      p.on('exit', (code) => reject(new Error(`child exited ${code} before up`)));
    });
    const exited = new Promise<number | null>((resolve) =>
      p.on('exit', (code, sig) => resolve(code ?? (sig ? -1 : null))),
    );
    return { p, up, exited };
  }

  const labGone = async (runId: string) => {
    const list = execFileSync('ip', ['netns', 'list'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    return !list.includes(`m${runId}-`) && !existsSync(recordPath(runId));
  };
  it('an uncaught throw in the owner still removes its lab', async () => {
    const runId = `t${Math.floor(Math.random() * 1e6)}`;
    const c = child('throw', runId);
    const sleeper = await c.up;
    expect(await c.exited).toBe(1);
    expect(await labGone(runId)).toBe(true);
    expect(isAlive(sleeper)).toBe(false);
  });

  it('SIGTERM and SIGINT of the owner remove its lab', async () => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const runId = `s${Math.floor(Math.random() * 1e6)}`;
      const c = child('wait', runId);
      const sleeper = await c.up;
      c.p.kill(sig);
      await c.exited;
      expect(await labGone(runId)).toBe(true);
      expect(isAlive(sleeper)).toBe(false);
    }
  });

  it('after a SIGKILL, cleanupLeftoverLabs removes the dead lab and never a live one', async () => {
    const live = await Lab.create({ runId: `l${Math.floor(Math.random() * 1e6)}` });
    try {
      const runId = `k${Math.floor(Math.random() * 1e6)}`;
      const c = child('wait', runId);
      const sleeper = await c.up;
      c.p.kill('SIGKILL');
      await c.exited;
      expect(await labGone(runId)).toBe(false); // nobody cleaned up: a leftover
      expect(isAlive(sleeper)).toBe(true);
      const report = cleanupLeftoverLabs();
      expect(report.labs.map((l) => l.runId)).toContain(runId);
      expect(report.labs.map((l) => l.runId)).not.toContain(live.runId);
      expect(await labGone(runId)).toBe(true);
      expect(isAlive(sleeper)).toBe(false);
      await live.execOk('peerA', ['ping', '-c1', '-W2', live.addr.svc]); // untouched
    } finally {
      await live.destroy();
    }
  });
});

describe('CLI', () => {
  const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const p = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
      let stdout = '';
      p.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
      });
      p.on('exit', (code) => resolve({ code, stdout }));
    });

  it('up keeps a lab until down removes it; status shows it with a live owner', async () => {
    const runId = `c${Math.floor(Math.random() * 1e6)}`;
    const up = spawn(process.execPath, [cli, 'up', '--run-id', runId, '--natB', 'symmetric'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    const exited = new Promise<number | null>((resolve) => up.on('exit', (c) => resolve(c)));
    try {
      await new Promise<void>((resolve, reject) => {
        up.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          if (out.includes('is up')) resolve();
        });
        up.on('exit', () => reject(new Error(`up exited early: ${out}`)));
      });
      const printed = JSON.parse(out.slice(0, out.lastIndexOf('}') + 1)) as {
        ns: { peerA: string };
        nat: { natB: string };
      };
      expect(printed.ns.peerA).toBe(`m${runId}-peerA`);
      expect(printed.nat.natB).toBe('symmetric');
      const status = JSON.parse((await run(['status'])).stdout) as {
        labs: { runId: string; ownerAlive: boolean; namespaces: string[] }[];
      };
      expect(status.labs.find((l) => l.runId === runId)).toMatchObject({ ownerAlive: true });
      expect(status.labs.find((l) => l.runId === runId)!.namespaces).toHaveLength(6);
      const down = await run(['down', runId]);
      expect(down.code).toBe(0);
      expect(await exited).toBe(0);
      expect(out).toContain(`lab ${runId} removed`);
      const list = execFileSync('ip', ['netns', 'list'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      expect(list).not.toContain(`m${runId}-`);
    } finally {
      up.kill('SIGKILL');
    }
  });

  it('unknown commands print the usage and fail', async () => {
    const r = await run(['bogus']);
    expect(r.code).toBe(2);
  });
});
