import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { onceEvent } from '@mesh/core';
import { generateKeyPair, type KeyPair, Lab, type LabProcess } from '@mesh/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Everything real, from config files alone: in svc the relay server CLI (mesh-relay), the signaling
// server CLI (mesh-signal) and coturn; in peerA and peerB one `mesh-agent up --config FILE` each,
// which creates its own wireguard-go interface. Children run BUILT code: build first
// (`tools/with-node npx nx run-many -t build -p @mesh/reference-agent @mesh/relay-server @mesh/example-signal @mesh/lab`).

const require = createRequire(import.meta.url);
const pkgDir = (name: string) => dirname(require.resolve(`${name}/package.json`));
const AGENT_CLI = join(pkgDir('@mesh/reference-agent'), 'dist/cli.js');
const RELAY_CLI = join(pkgDir('@mesh/relay-server'), 'dist/cli.js');
const SIGNAL_CLI = join(pkgDir('@mesh/example-signal'), 'dist/cli.js');

const RELAY_PORT = 33080;
const SIGNAL_PORT = 8443;
const SECRET = 'lab-relay-secret';
const OVERLAY = { peerA: '100.64.0.1', peerB: '100.64.0.2' } as const;
type Role = keyof typeof OVERLAY;

interface Side {
  role: Role;
  keys: KeyPair;
  ifname: string;
  configFile: string;
  controlSocket: string;
  proc: LabProcess;
}

let lab: Lab;
const dir = mkdtempSync(join(tmpdir(), 'mesh-agent-lab-'));
const sides = {} as Record<Role, Side>;
const startedAt = {} as Record<Role, number>;
/** Printed as one JSON line at the end: what a newcomer's first start costs. */
const measured: Record<string, number> = {};

/** Wall time of the first log line of `event` (its `ts`), in ms after the agent was spawned. */
function msAfterStart(s: Side, pred: (e: Record<string, unknown>) => boolean): number {
  const e = s.proc.lines
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find(pred);
  return e ? Date.parse(String(e.ts)) - startedAt[s.role] : Number.NaN;
}

function logEvents(proc: LabProcess, event: string): Record<string, unknown>[] {
  return proc.lines
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.event === event);
}

async function cli(role: Role, args: string[]) {
  return lab.exec(role, [process.execPath, AGENT_CLI, ...args], { timeoutMs: 15_000 });
}

beforeAll(async () => {
  lab = await Lab.create({ natA: 'cone', natB: 'cone' });
  const svc = lab.addr.svc;
  const turn = await lab.startCoturn({ user: 'u', password: 'p' });
  const relay = lab.spawnNode(
    'svc',
    RELAY_CLI,
    ['--listen', `${svc}:${RELAY_PORT}`, '--secret', SECRET, '--exposed-address', `rel://${svc}:${RELAY_PORT}`],
    { name: 'mesh-relay' },
  );
  await relay.waitForLine(/"event":"relay-listening"/);
  const signal = lab.spawnNode('svc', SIGNAL_CLI, ['--listen', `${svc}:${SIGNAL_PORT}`], { name: 'mesh-signal' });
  await signal.waitForLine(/"event":"signal-listening"/);

  const keys = { peerA: generateKeyPair(), peerB: generateKeyPair() };
  for (const role of ['peerA', 'peerB'] as const) {
    const other: Role = role === 'peerA' ? 'peerB' : 'peerA';
    // Interface names are global to the shared UAPI socket directory: unique per run.
    const ifname = `ma${lab.runId}${role === 'peerA' ? 'a' : 'b'}`;
    const controlSocket = join(dir, `${role}.sock`);
    const config: Record<string, unknown> = {
      interface: { name: ifname, address: `${OVERLAY[role]}/24`, listenPort: 51820, mtu: 1280 },
      signal: { url: `ws://${svc}:${SIGNAL_PORT}` },
      relay: { urls: [`rel://${svc}:${RELAY_PORT}`], secret: SECRET },
      ice: { stun: [turn.stunUrl], turn: [{ url: turn.turnUrl, username: turn.user, password: turn.password }] },
      peers: [{ publicKey: keys[other].publicKey, allowedIps: [`${OVERLAY[other]}/32`] }],
      control: { socket: controlSocket },
    };
    if (role === 'peerA') {
      config.privateKey = keys[role].privateKey;
      config.metrics = { listen: '127.0.0.1:9101' };
    } else {
      // peerB reads its key from a file next to the config (a relative path).
      writeFileSync(join(dir, 'peerB.key'), `${keys[role].privateKey}\n`);
      chmodSync(join(dir, 'peerB.key'), 0o600);
      config.privateKeyFile = 'peerB.key';
    }
    const configFile = join(dir, `${role}.json`);
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    startedAt[role] = Date.now();
    const proc = lab.spawnNode(role, AGENT_CLI, ['up', '--config', configFile], { name: `mesh-agent:${role}` });
    sides[role] = { role, keys: keys[role], ifname, configFile, controlSocket, proc };
  }
  await Promise.all(Object.values(sides).map((s) => s.proc.waitForLine(/"event":"agent-up"/, { timeoutMs: 20_000 })));
});

afterAll(async () => {
  // MESH_LAB_DUMP=dir keeps each agent's log for a post-mortem.
  const dump = process.env.MESH_LAB_DUMP;
  if (dump) for (const s of Object.values(sides)) writeFileSync(join(dump, `${s.role}.log`), s.proc.lines.join('\n'));
  await lab?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('mesh-agent in the lab (cone NATs)', () => {
  it('both agents reach ice-direct and a ping passes through the tunnel', async () => {
    for (const s of Object.values(sides)) {
      await s.proc.waitForLine((l) => l.includes('"event":"path-changed"') && l.includes('"to":"ice-direct"'), {
        timeoutMs: 30_000,
      });
    }
    // WireGuard's first initiation leaves when PeerConn configures the peer, before any path is
    // up, and is lost; the retry comes 5 s later (REKEY_TIMEOUT). Wait for the first reply, then ping.
    const monitor = lab.startOutageMonitor('peerA', OVERLAY.peerB, { intervalMs: 200 });
    try {
      await onceEvent(monitor, 'probe', { timeoutMs: 15_000, filter: (p: { received: boolean }) => p.received });
    } finally {
      await monitor.stop();
    }
    measured.firstPingReplyMs = Date.now() - startedAt.peerA;
    for (const side of Object.values(sides)) {
      measured[`${side.role}AgentUpMs`] = msAfterStart(side, (e) => e.event === 'agent-up');
      measured[`${side.role}IceDirectMs`] = msAfterStart(
        side,
        (e) => e.event === 'path-changed' && e.to === 'ice-direct',
      );
    }
    const ping = await lab.execOk('peerA', ['ping', '-c', '3', '-W', '2', OVERLAY.peerB]);
    measured.pingAvgRttMs = Number(/= [\d.]+\/([\d.]+)\//.exec(ping.stdout)?.[1]);
    expect(ping.stdout).toMatch(/3 received/);
    await lab.execOk('peerB', ['ping', '-c', '1', '-W', '2', OVERLAY.peerA]);
  });

  it('logs are JSON lines with ts, level, event and the peer', () => {
    const changes = logEvents(sides.peerA.proc, 'path-changed');
    expect(changes.length).toBeGreaterThan(0);
    for (const e of changes) {
      expect(e).toMatchObject({ level: 'info', peer: expect.any(String), to: expect.any(String) });
      expect(Number.isNaN(Date.parse(String(e.ts)))).toBe(false);
    }
  });

  it('status --json has exactly the documented shape and says ice-direct', async () => {
    const r = await cli('peerA', ['status', '--config', sides.peerA.configFile, '--json']);
    expect(r.code).toBe(0);
    const status = JSON.parse(r.stdout);
    expect(Object.keys(status).sort()).toEqual(['peers', 'self']);
    expect(Object.keys(status.self).sort()).toEqual(['publicKey', 'relay']);
    expect(status.self).toEqual({
      publicKey: sides.peerA.keys.publicKey,
      relay: { home: `rel://${lab.addr.svc}:${RELAY_PORT}`, connected: true },
    });
    expect(status.peers).toHaveLength(1);
    const peer = status.peers[0];
    expect(Object.keys(peer).sort()).toEqual(
      ['counters', 'iceSessionId', 'lastHandshakeAt', 'path', 'publicKey', 'rxBytes', 'txBytes'].sort(),
    );
    expect(Object.keys(peer.counters).sort()).toEqual(
      ['iceSessions', 'offersReceived', 'offersSent', 'recoveries', 'relayReopens', 'relayTeardowns'].sort(),
    );
    expect(peer).toMatchObject({ publicKey: sides.peerB.keys.publicKey, path: 'ice-direct' });
    expect(peer.iceSessionId).toMatch(/^[0-9a-f]{10}$/);
    expect(Date.now() - Date.parse(peer.lastHandshakeAt)).toBeLessThan(60_000);
    expect(peer.rxBytes).toBeGreaterThan(0);
    expect(peer.txBytes).toBeGreaterThan(0);
    for (const v of Object.values(peer.counters)) expect(Number.isInteger(v)).toBe(true);

    const human = await cli('peerB', ['status', '--config', sides.peerB.configFile]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      new RegExp(`${sides.peerA.keys.publicKey.replace(/[+/]/g, '.')}\\s+ice-direct\\s+\\d+s ago`),
    );
  });

  it('metrics: Prometheus text with the peer path', async () => {
    const r = await lab.execOk('peerA', ['curl', '-sf', 'http://127.0.0.1:9101/metrics']);
    expect(r.stdout).toContain(`mesh_peer_path{peer="${sides.peerB.keys.publicKey}",path="ice-direct"} 1`);
    expect(r.stdout).toMatch(/^mesh_peer_last_handshake_age_seconds\{peer="[^"]+"\} \d/m);
  });

  it('a bad config exits 2 naming the field, and starts nothing', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        privateKey: generateKeyPair().privateKey,
        interface: { name: `ma${lab.runId}x`, address: '100.64.0.9/24' },
        signal: { url: `ws://${lab.addr.svc}:${SIGNAL_PORT}` },
        peers: [{ publicKey: 'not-a-key', allowedIps: ['100.64.0.1/32'] }],
      }),
    );
    const r = await cli('peerA', ['up', '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('config.peers[0].publicKey: invalid WireGuard key "not-a-key"');
    expect((await lab.exec('peerA', ['ip', 'link', 'show', `ma${lab.runId}x`])).code).not.toBe(0);
  });

  it('an idle agent: RSS', async () => {
    for (const side of Object.values(sides)) {
      const st = await lab.execOk(side.role, ['cat', `/proc/${side.proc.pid}/status`]);
      measured[`${side.role}RssKiB`] = Number(/VmRSS:\s+(\d+)/.exec(st.stdout)?.[1]);
    }
    expect(measured.peerARssKiB).toBeGreaterThan(0);
    console.log(JSON.stringify({ measured }));
  });

  it('SIGTERM: exit 0, no interface, no wireguard-go, no socket left behind', async () => {
    for (const s of Object.values(sides)) {
      expect((await lab.exec(s.role, ['ip', 'link', 'show', s.ifname])).code).toBe(0);
      // Only the agent is signalled (wireguard-go runs in its own process group): it must clean up itself.
      s.proc.kill('SIGTERM');
    }
    for (const s of Object.values(sides)) {
      expect(await s.proc.exited).toEqual({ code: 0, signal: null });
      expect((await lab.exec(s.role, ['ip', 'link', 'show', s.ifname])).code).not.toBe(0);
      expect(existsSync(`/var/run/wireguard/${s.ifname}.sock`)).toBe(false);
      expect(existsSync(s.controlSocket)).toBe(false);
      const pgrep = await lab.exec(s.role, ['pgrep', '-f', `wireguard-go -f ${s.ifname}`]);
      expect(pgrep.stdout.trim()).toBe('');
      expect(logEvents(s.proc, 'agent-down')).toHaveLength(1);
    }
  });

  it('mode "existing": adopts a running wireguard-go and, on stop, removes only its own peers', async () => {
    const wg = await lab.startWireguardGo('peerA', { address: '100.64.1.1/24', listenPort: 51830 });
    try {
      const file = join(dir, 'existing.json');
      writeFileSync(
        file,
        JSON.stringify({
          privateKey: generateKeyPair().privateKey,
          interface: { name: wg.ifname, address: '100.64.1.1/24', listenPort: 51830, mode: 'existing' },
          signal: { url: `ws://${lab.addr.svc}:${SIGNAL_PORT}` },
          peers: [{ publicKey: sides.peerB.keys.publicKey, allowedIps: ['100.64.1.2/32'] }],
          control: { socket: join(dir, 'existing.sock') },
        }),
      );
      const proc = lab.spawnNode('peerA', AGENT_CLI, ['up', '--config', file], { name: 'mesh-agent:existing' });
      await proc.waitForLine(/"event":"agent-up"/, { timeoutMs: 20_000 });
      expect(logEvents(proc, 'interface-adopted')[0]).toMatchObject({ name: wg.ifname, backend: 'uapi' });
      expect((await lab.execOk('peerA', ['wg', 'show', wg.ifname, 'peers'])).stdout).toContain(
        sides.peerB.keys.publicKey,
      );
      proc.kill('SIGTERM');
      expect(await proc.exited).toEqual({ code: 0, signal: null });
      expect((await lab.execOk('peerA', ['wg', 'show', wg.ifname, 'peers'])).stdout.trim()).toBe('');
      expect(existsSync(wg.uapiSocket)).toBe(true);
      expect(existsSync(join(dir, 'existing.sock'))).toBe(false);
    } finally {
      await wg.stop();
    }
  });

  it('mode "kernel": works where the kernel has WireGuard, fails clearly (exit 1, nothing left) where not', async () => {
    const ifname = `ma${lab.runId}k`;
    const probe = await lab.exec('peerB', ['ip', 'link', 'add', 'dev', ifname, 'type', 'wireguard']);
    if (probe.code === 0) await lab.execOk('peerB', ['ip', 'link', 'delete', 'dev', ifname]);
    const file = join(dir, 'kernel.json');
    writeFileSync(
      file,
      JSON.stringify({
        privateKey: generateKeyPair().privateKey,
        interface: { name: ifname, address: '100.64.2.1/24', mode: 'kernel' },
        signal: { url: `ws://${lab.addr.svc}:${SIGNAL_PORT}` },
        peers: [],
        control: { socket: join(dir, 'kernel.sock') },
      }),
    );
    if (probe.code !== 0) {
      const r = await cli('peerB', ['up', '--config', file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('no kernel WireGuard');
      expect(r.stderr).toContain('use interface.mode "wireguard-go"');
    } else {
      const proc = lab.spawnNode('peerB', AGENT_CLI, ['up', '--config', file], { name: 'mesh-agent:kernel' });
      await proc.waitForLine(/"event":"agent-up"/, { timeoutMs: 20_000 });
      proc.kill('SIGTERM');
      expect(await proc.exited).toEqual({ code: 0, signal: null });
    }
    expect((await lab.exec('peerB', ['ip', 'link', 'show', ifname])).code).not.toBe(0);
    expect(existsSync(join(dir, 'kernel.sock'))).toBe(false);
  });
});
