import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair } from '@mesh/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_CLI,
  AgentLab,
  logEvents,
  OVERLAY,
  pathChangedTo,
  RELAY_PORT,
  ROLES,
  SIGNAL_PORT,
  type Side,
} from './agent-lab.js';

let al: AgentLab;
/** Printed as one JSON line: what a newcomer's first start costs. */
const measured: Record<string, number> = {};

/** Wall time of the first log line matching `pred` (its `ts`), in ms after the agent was spawned. */
function msAfterStart(s: Side, pred: (e: Record<string, unknown>) => boolean): number {
  const e = s.proc.lines
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find(pred);
  return e ? Date.parse(String(e.ts)) - s.startedAt : Number.NaN;
}

beforeAll(async () => {
  al = await AgentLab.create({ natA: 'cone', natB: 'cone' });
  await al.startAgents();
});

afterAll(async () => {
  await al?.destroy();
});

describe('mesh-agent in the lab (cone NATs)', () => {
  it('both agents reach ice-direct and a ping passes through the tunnel', async () => {
    await Promise.all(ROLES.map((r) => pathChangedTo(al.sides[r], 'ice-direct')));
    await al.waitForTunnel('peerA');
    measured.firstPingReplyMs = Date.now() - al.sides.peerA.startedAt;
    for (const side of Object.values(al.sides)) {
      measured[`${side.role}AgentUpMs`] = msAfterStart(side, (e) => e.event === 'agent-up');
      measured[`${side.role}IceDirectMs`] = msAfterStart(
        side,
        (e) => e.event === 'path-changed' && e.to === 'ice-direct',
      );
    }
    const ping = await al.lab.execOk('peerA', ['ping', '-c', '3', '-W', '2', OVERLAY.peerB]);
    measured.pingAvgRttMs = Number(/= [\d.]+\/([\d.]+)\//.exec(ping.stdout)?.[1]);
    expect(ping.stdout).toMatch(/3 received/);
    await al.lab.execOk('peerB', ['ping', '-c', '1', '-W', '2', OVERLAY.peerA]);
  });

  it('logs are JSON lines with ts, level, event and the peer', () => {
    const changes = logEvents(al.sides.peerA.proc, 'path-changed');
    expect(changes.length).toBeGreaterThan(0);
    for (const e of changes) {
      expect(e).toMatchObject({ level: 'info', peer: expect.any(String), to: expect.any(String) });
      expect(Number.isNaN(Date.parse(String(e.ts)))).toBe(false);
    }
  });

  it('status --json has exactly the documented shape and says ice-direct', async () => {
    const r = await al.cli('peerA', ['status', '--config', al.sides.peerA.configFile, '--json']);
    expect(r.code).toBe(0);
    const status = JSON.parse(r.stdout);
    expect(Object.keys(status).sort()).toEqual(['peers', 'self']);
    expect(Object.keys(status.self).sort()).toEqual(['publicKey', 'relay']);
    expect(status.self).toEqual({
      publicKey: al.sides.peerA.keys.publicKey,
      relay: { home: `rel://${al.lab.addr.svc}:${RELAY_PORT}`, connected: true },
    });
    expect(status.peers).toHaveLength(1);
    const peer = status.peers[0];
    expect(Object.keys(peer).sort()).toEqual(
      [
        'carrying',
        'counters',
        'iceDemoted',
        'iceSessionId',
        'lastHandshakeAt',
        'loss',
        'offline',
        'path',
        'publicKey',
        'rxBytes',
        'txBytes',
      ].sort(),
    );
    expect(peer).toMatchObject({ carrying: true, iceDemoted: false, offline: false });
    expect(Object.keys(peer.loss).sort()).toEqual(['ice', 'relay']);
    expect(Object.keys(peer.counters).sort()).toEqual(
      ['iceSessions', 'offersReceived', 'offersSent', 'recoveries', 'relayReopens', 'relayTeardowns'].sort(),
    );
    expect(peer).toMatchObject({ publicKey: al.sides.peerB.keys.publicKey, path: 'ice-direct' });
    expect(peer.iceSessionId).toMatch(/^[0-9a-f]{10}$/);
    expect(Date.now() - Date.parse(peer.lastHandshakeAt)).toBeLessThan(60_000);
    expect(peer.rxBytes).toBeGreaterThan(0);
    expect(peer.txBytes).toBeGreaterThan(0);
    for (const v of Object.values(peer.counters)) expect(Number.isInteger(v)).toBe(true);

    const human = await al.cli('peerB', ['status', '--config', al.sides.peerB.configFile]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      new RegExp(`${al.sides.peerA.keys.publicKey.replace(/[+/]/g, '.')}\\s+ice-direct\\s+\\d+s ago`),
    );
  });

  it('metrics: Prometheus text with the peer path', async () => {
    const r = await al.lab.execOk('peerA', ['curl', '-sf', 'http://127.0.0.1:9101/metrics']);
    expect(r.stdout).toContain(`mesh_peer_path{peer="${al.sides.peerB.keys.publicKey}",path="ice-direct"} 1`);
    expect(r.stdout).toMatch(/^mesh_peer_last_handshake_age_seconds\{peer="[^"]+"\} \d/m);
  });

  it('a bad config exits 2 naming the field, and starts nothing', async () => {
    const bad = join(al.dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        privateKey: generateKeyPair().privateKey,
        interface: { name: `ma${al.lab.runId}x`, address: '100.64.0.9/24' },
        signal: { url: `ws://${al.lab.addr.svc}:${SIGNAL_PORT}` },
        peers: [{ publicKey: 'not-a-key', allowedIps: ['100.64.0.1/32'] }],
      }),
    );
    const r = await al.cli('peerA', ['up', '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('config.peers[0].publicKey: invalid WireGuard key "not-a-key"');
    expect((await al.lab.exec('peerA', ['ip', 'link', 'show', `ma${al.lab.runId}x`])).code).not.toBe(0);
  });

  it('the direct path dies (UDP blocked at natA): fail-over logged with session-rotated and recovered', async () => {
    const a = al.sides.peerA;
    const after = a.proc.lines.length + a.proc.linesDropped;
    const logged = (event: string) =>
      a.proc.waitForLine((l) => l.includes(`"event":"${event}"`), { after, timeoutMs: 30_000 });
    await al.lab.blockUdp('natA', true);
    // Traffic through the tunnel meanwhile: `recovered` means WireGuard data crossed the new path.
    const traffic = al.lab.startOutageMonitor('peerA', OVERLAY.peerB, { intervalMs: 200 });
    try {
      const recovered = JSON.parse(await logged('recovered'));
      expect(recovered).toMatchObject({ level: 'info', peer: expect.any(String), outageMs: expect.any(Number) });
      expect(recovered.path).not.toBe('ice-direct');
      JSON.parse(await logged('session-rotated'));
      measured.failoverOutageMs = recovered.outageMs;
      const ping = await al.lab.execOk('peerA', ['ping', '-c', '3', '-W', '2', OVERLAY.peerB]);
      expect(ping.stdout).toMatch(/3 received/);
    } finally {
      await traffic.stop();
      await al.lab.blockUdp('natA', false);
    }
  });

  it('an idle agent: RSS', async () => {
    for (const side of Object.values(al.sides)) {
      const st = await al.lab.execOk(side.role, ['cat', `/proc/${side.proc.pid}/status`]);
      measured[`${side.role}RssKiB`] = Number(/VmRSS:\s+(\d+)/.exec(st.stdout)?.[1]);
    }
    expect(measured.peerARssKiB).toBeGreaterThan(0);
    console.log(JSON.stringify({ measured }));
  });

  it('crash (SIGKILL to the process group) and restart from the same config: nothing in the way', async () => {
    const a = al.sides.peerA;
    a.proc.kill('SIGKILL'); // the group: agent and wireguard-go, as a service manager would
    await a.proc.exited;
    expect(existsSync(a.controlSocket)).toBe(true); // stale: nobody cleaned up
    a.proc = al.lab.spawnNode('peerA', AGENT_CLI, ['up', '--config', a.configFile], { name: 'mesh-agent:peerA#2' });
    await a.proc.waitForLine(/"event":"agent-up"/, { timeoutMs: 20_000 });
    await al.waitForTunnel('peerA', 60_000);
    expect((await al.status('peerA')).peers[0].path).not.toBe('none');
  });

  it('SIGTERM / Ctrl-C: exit 0, no interface, no wireguard-go, no socket left behind', async () => {
    for (const s of Object.values(al.sides)) {
      expect((await al.lab.exec(s.role, ['ip', 'link', 'show', s.ifname])).code).toBe(0);
    }
    // peerA: SIGTERM to the agent's pid only, so the agent itself must stop wireguard-go. peerB:
    // SIGINT to the whole process group, as a terminal's Ctrl-C: wireguard-go exits at the same time.
    process.kill(al.sides.peerA.proc.pid, 'SIGTERM');
    al.sides.peerB.proc.kill('SIGINT');
    for (const s of Object.values(al.sides)) {
      expect(await s.proc.exited).toEqual({ code: 0, signal: null });
      expect((await al.lab.exec(s.role, ['ip', 'link', 'show', s.ifname])).code).not.toBe(0);
      expect(existsSync(`/var/run/wireguard/${s.ifname}.sock`)).toBe(false);
      expect(existsSync(s.controlSocket)).toBe(false);
      const pgrep = await al.lab.exec(s.role, ['pgrep', '-f', `wireguard-go -f ${s.ifname}`]);
      expect(pgrep.stdout.trim()).toBe('');
      expect(logEvents(s.proc, 'agent-down')).toHaveLength(1);
    }
  });

  it('mode "existing": adopts a running wireguard-go and, on stop, removes only its own peers', async () => {
    const wg = await al.lab.startWireguardGo('peerA', { address: '100.64.1.1/24', listenPort: 51830 });
    try {
      const file = join(al.dir, 'existing.json');
      writeFileSync(
        file,
        JSON.stringify({
          privateKey: generateKeyPair().privateKey,
          interface: { name: wg.ifname, address: '100.64.1.1/24', listenPort: 51830, mode: 'existing' },
          signal: { url: `ws://${al.lab.addr.svc}:${SIGNAL_PORT}` },
          peers: [{ publicKey: al.sides.peerB.keys.publicKey, allowedIps: ['100.64.1.2/32'] }],
          control: { socket: join(al.dir, 'existing.sock') },
        }),
      );
      const proc = al.lab.spawnNode('peerA', AGENT_CLI, ['up', '--config', file], { name: 'mesh-agent:existing' });
      await proc.waitForLine(/"event":"agent-up"/, { timeoutMs: 20_000 });
      expect(logEvents(proc, 'interface-adopted')[0]).toMatchObject({ name: wg.ifname, backend: 'uapi' });
      expect((await al.lab.execOk('peerA', ['wg', 'show', wg.ifname, 'peers'])).stdout).toContain(
        al.sides.peerB.keys.publicKey,
      );
      proc.kill('SIGTERM');
      expect(await proc.exited).toEqual({ code: 0, signal: null });
      expect((await al.lab.execOk('peerA', ['wg', 'show', wg.ifname, 'peers'])).stdout.trim()).toBe('');
      expect(existsSync(wg.uapiSocket)).toBe(true);
      expect(existsSync(join(al.dir, 'existing.sock'))).toBe(false);
    } finally {
      await wg.stop();
    }
  });

  it('mode "kernel": works where the kernel has WireGuard, fails clearly (exit 1, nothing left) where not', async () => {
    const ifname = `ma${al.lab.runId}k`;
    const probe = await al.lab.exec('peerB', ['ip', 'link', 'add', 'dev', ifname, 'type', 'wireguard']);
    if (probe.code === 0) await al.lab.execOk('peerB', ['ip', 'link', 'delete', 'dev', ifname]);
    const file = join(al.dir, 'kernel.json');
    writeFileSync(
      file,
      JSON.stringify({
        privateKey: generateKeyPair().privateKey,
        interface: { name: ifname, address: '100.64.2.1/24', mode: 'kernel' },
        signal: { url: `ws://${al.lab.addr.svc}:${SIGNAL_PORT}` },
        peers: [],
        control: { socket: join(al.dir, 'kernel.sock') },
      }),
    );
    if (probe.code !== 0) {
      const r = await al.cli('peerB', ['up', '--config', file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('no kernel WireGuard');
      expect(r.stderr).toContain('use interface.mode "wireguard-go"');
    } else {
      const proc = al.lab.spawnNode('peerB', AGENT_CLI, ['up', '--config', file], { name: 'mesh-agent:kernel' });
      await proc.waitForLine(/"event":"agent-up"/, { timeoutMs: 20_000 });
      proc.kill('SIGTERM');
      expect(await proc.exited).toEqual({ code: 0, signal: null });
    }
    expect((await al.lab.exec('peerB', ['ip', 'link', 'show', ifname])).code).not.toBe(0);
    expect(existsSync(join(al.dir, 'kernel.sock'))).toBe(false);
  });
});
