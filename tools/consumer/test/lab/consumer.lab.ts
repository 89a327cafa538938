import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair, type KeyPair, Lab, type LabProcess } from '@mesh/lab';
import { generateRelayToken } from '@mesh/relay-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsumerProject, createConsumerProject, ROOT, readmeAgentSource, sh } from '../../src/project.js';

// CI's stranger (issue "Integrators build their agent from npm"): every published package is packed,
// the tarballs are installed into a fresh project outside the workspace, the README's agent is
// typechecked there against the published .d.ts and run in the lab. Nothing below imports the
// workspace's own packages into that project; the lab and the relay token are test equipment.

/** The stranger's entry point: a JSON config file in, the README's agent running until SIGTERM. */
const MAIN = `import { readFileSync } from 'node:fs';
import { PeerKey } from '@mesh/core';
import { type MinimalAgentConfig, runMinimalAgent } from './agent.js';

interface FileConfig {
  privateKey: string;
  publicKey: string;
  interface: { name: string; listenPort: number; address: string };
  relay: { urls: string[]; token: string };
  signal: { url: string };
  ice: { stun?: { host: string; port: number } };
  peers: { publicKey: string; allowedIps: string[] }[];
}

const file = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as FileConfig;
const config: MinimalAgentConfig = {
  ...file,
  publicKey: PeerKey.parse(file.publicKey),
  peers: file.peers.map((p) => ({ publicKey: PeerKey.parse(p.publicKey), allowedIps: p.allowedIps })),
  tuning: { persistentKeepaliveSec: 25, probeIntervalMs: 1000, trustWindowMs: 3000,
    firstHandshakeTimeoutMs: 30_000, staleAfterMs: 210_000, logLevel: 'info' },
};
const agent = await runMinimalAgent(config);
console.log(JSON.stringify({ event: 'consumer-agent-up' }));
process.once('SIGTERM', () => {
  void agent.stop().then(() => process.exit(0));
});
`;

const bin = (name: string) => join(ROOT, 'node_modules/.bin', name);
const RELAY_PORT = 33180;
const SIGNAL_PORT = 8543;
const SECRET = 'consumer-lab-secret';
const OVERLAY = { peerA: '100.64.9.1', peerB: '100.64.9.2' } as const;
type Role = keyof typeof OVERLAY;
const ROLES: Role[] = ['peerA', 'peerB'];

let project: ConsumerProject | undefined;

beforeAll(async () => {
  project = await createConsumerProject({ 'agent.ts': readmeAgentSource(), 'main.ts': MAIN });
});
afterAll(() => project?.remove());

const tarballs = () => [...project!.tarballs.values()];
const names = () => [...project!.tarballs.keys()];

describe('the published packages, installed from their tarballs into a fresh project', () => {
  it('publint reports no errors or warnings on any tarball', async () => {
    for (const tgz of tarballs()) await sh(bin('publint'), ['run', tgz, '--strict'], { cwd: project!.dir });
  });

  it('@arethetypeswrong/cli (esm-only profile) reports no problem on any tarball', async () => {
    for (const tgz of tarballs()) {
      await sh(bin('attw'), [tgz, '--profile', 'esm-only', '--format', 'ascii'], { cwd: project!.dir });
    }
  });

  it('the README agent typechecks against the published .d.ts (strict, nodenext, skipLibCheck: false)', async () => {
    await sh(process.execPath, [join(project!.dir, 'node_modules/typescript/bin/tsc'), '-p', '.'], {
      cwd: project!.dir,
    });
  });

  it("require() loads every package on this Node (require(esm) through the 'default' condition)", async () => {
    const script = `for (const n of ${JSON.stringify(names())}) require(n); console.log('ok')`;
    const { stdout } = await sh(process.execPath, ['-e', script], { cwd: project!.dir });
    expect(stdout.trim()).toBe('ok');
  });

  it('every /testing entry imports without vitest installed', async () => {
    const entries = names().flatMap((n) => {
      const pkg = JSON.parse(readFileSync(join(project!.dir, 'node_modules', n, 'package.json'), 'utf8'));
      return Object.keys(pkg.exports ?? {})
        .filter((k) => k === './testing')
        .map((k) => `${n}${k.slice(1)}`);
    });
    expect(entries.length).toBeGreaterThan(0);
    const script = `for (const e of ${JSON.stringify(entries)}) await import(e); console.log('ok')`;
    const { stdout } = await sh(process.execPath, ['--input-type=module', '-e', script], { cwd: project!.dir });
    expect(stdout.trim()).toBe('ok');
  });

  it('two agents whose code is the README snippet ping through wireguard-go: ICE direct, then relay with UDP blocked', async () => {
    const dir = project!.dir;
    const lab = await Lab.create({ natA: 'cone', natB: 'cone' });
    const procs: LabProcess[] = [];
    try {
      await lab.startCoturn();
      const relayUrl = `rel://${lab.addr.svc}:${RELAY_PORT}`;
      const relay = lab.spawnNode(
        'svc',
        join(dir, 'node_modules/@mesh/relay-server/dist/cli.js'),
        ['--listen', `${lab.addr.svc}:${RELAY_PORT}`, '--secret', SECRET, '--exposed-address', relayUrl],
        { name: 'mesh-relay' },
      );
      procs.push(relay);
      const signal = lab.spawnNode(
        'svc',
        join(dir, 'node_modules/@mesh/signal-server/dist/cli.js'),
        ['--listen', `${lab.addr.svc}:${SIGNAL_PORT}`],
        { name: 'mesh-signal' },
      );
      procs.push(signal);
      await relay.waitForLine(/"event":"relay-listening"/, { timeoutMs: 15_000 });
      await signal.waitForLine(/"event":"signal-listening"/, { timeoutMs: 15_000 });

      const keys: Record<Role, KeyPair> = { peerA: generateKeyPair(), peerB: generateKeyPair() };
      const token = generateRelayToken(SECRET).toString('base64');
      const agents = {} as Record<Role, LabProcess>;
      for (const [i, role] of ROLES.entries()) {
        const peer = role === 'peerA' ? 'peerB' : 'peerA';
        const wg = await lab.startWireguardGo(role, { address: `${OVERLAY[role]}/24`, listenPort: 51900 + i });
        const configFile = join(dir, `${role}.json`);
        const config = {
          ...keys[role],
          interface: { name: wg.ifname, listenPort: 51900 + i, address: `${OVERLAY[role]}/24` },
          relay: { urls: [relayUrl], token },
          signal: { url: `ws://${lab.addr.svc}:${SIGNAL_PORT}` },
          ice: { stun: { host: lab.addr.svc, port: 3478 } },
          peers: [{ publicKey: keys[peer].publicKey, allowedIps: [`${OVERLAY[peer]}/32`] }],
        };
        writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });
        agents[role] = lab.spawnNode(role, join(dir, 'dist/main.js'), [configFile], { name: `consumer-${role}` });
        procs.push(agents[role]);
      }
      const pathIs = (role: Role, to: string, after = 0) =>
        agents[role].waitForLine((l) => l.includes('"event":"path-changed"') && l.includes(`"to":"${to}"`), {
          timeoutMs: 30_000,
          after,
        });
      // Three replies within 10 s (the first may wait for WireGuard's handshake on the new path).
      const ping = () => lab.execOk('peerA', ['ping', '-c', '3', '-i', '0.2', '-w', '10', OVERLAY.peerB]);

      await Promise.all(ROLES.map((r) => pathIs(r, 'ice-direct')));
      expect((await ping()).stdout).toMatch(/3 received/);

      const marks = { peerA: agents.peerA.lines.length, peerB: agents.peerB.lines.length };
      await lab.blockUdp('natA', true);
      await Promise.all(ROLES.map((r) => pathIs(r, 'relay', marks[r])));
      expect((await ping()).stdout).toMatch(/3 received/);
    } finally {
      await Promise.all(procs.map((p) => p.stop()));
      await lab.destroy();
    }
  });
});
