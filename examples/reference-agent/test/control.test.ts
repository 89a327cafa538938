import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type AgentStatus, ControlServer, requestStatus } from '../src/index.js';
import { main } from '../src/main.js';
import { testIo as io } from './cli-io.js';
import { keyPair, validConfig } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'mesh-agent-control-'));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STATUS: AgentStatus = {
  self: { publicKey: keyPair().publicKey, relay: { home: 'rel://192.0.2.10:33080', connected: true } },
  peers: [
    {
      publicKey: keyPair().publicKey,
      path: 'relay',
      carrying: true,
      loss: { ice: null, relay: 0 },
      iceDemoted: false,
      offline: false,
      lastHandshakeAt: new Date(Date.now() - 3000).toISOString(),
      rxBytes: 10,
      txBytes: 20,
      iceSessionId: '0011223344',
      counters: { offersSent: 1, offersReceived: 1, relayReopens: 0, relayTeardowns: 0, iceSessions: 0, recoveries: 0 },
    },
  ],
};

let n = 0;
async function fakeAgent(status: () => Promise<AgentStatus> = async () => STATUS) {
  const path = join(dir, `sub${n++}`, 'agent.sock');
  const server = new ControlServer(path, { status });
  await server.start();
  cleanups.push(() => server.stop());
  return { path, server };
}

/** Raw exchange: what any client (socat, nc -U) sees. */
function exchange(path: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
    });
    s.once('end', () => resolve(buf));
    s.once('error', reject);
    s.write(request);
  });
}

/** A bare unix-socket server standing in for a broken agent; cleanup drops its connections. */
async function rawServer(path: string, onConnection: (s: Socket) => void): Promise<void> {
  const held = new Set<Socket>();
  const server = createServer((s) => {
    held.add(s);
    s.on('error', () => {});
    onConnection(s);
  });
  await new Promise<void>((r) => server.listen(path, r));
  cleanups.push(() => {
    for (const s of held) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
}

describe('control socket', () => {
  it('answers status with the agent snapshot; the socket file is 0600 and removed on stop', async () => {
    const { path, server } = await fakeAgent();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await requestStatus(path)).toStrictEqual(STATUS);
    await server.stop();
    await server.stop();
    expect(existsSync(path)).toBe(false);
  });

  it('bad requests get an error reply, not a hang or a crash', async () => {
    const { path } = await fakeAgent();
    expect(JSON.parse(await exchange(path, 'nonsense\n'))).toEqual({
      ok: false,
      error: { code: 'ERR_AGENT_CONTROL', message: 'request is not JSON' },
    });
    expect(JSON.parse(await exchange(path, '{"op":"reboot"}\n')).error.message).toBe('unknown op "reboot"');
    expect(JSON.parse(await exchange(path, 'x'.repeat(5000))).error.message).toBe('request longer than 4096 bytes');
    expect(JSON.parse(await exchange(path, '{"op":"status"}\n'))).toEqual({ ok: true, status: STATUS });
  });

  it('a failing snapshot is reported with its code', async () => {
    const { path } = await fakeAgent(async () => {
      throw Object.assign(new Error('device gone'), { code: 'ERR_WG_DEVICE_NOT_RUNNING' });
    });
    await expect(requestStatus(path)).rejects.toThrow('the agent refused: ERR_WG_DEVICE_NOT_RUNNING: device gone');
  });

  it('takes over a stale socket file but refuses a live one', async () => {
    const { path } = await fakeAgent();
    await expect(new ControlServer(path, { status: async () => STATUS }).start()).rejects.toThrow(
      `cannot listen on ${path}: another agent is serving it`,
    );
    const stale = join(dir, 'stale.sock');
    writeFileSync(stale, '');
    const server = new ControlServer(stale, { status: async () => STATUS });
    await server.start();
    cleanups.push(() => server.stop());
    expect(await requestStatus(stale)).toStrictEqual(STATUS);
  });

  it('client: no agent, a silent agent and a malformed reply are ERR_AGENT_CONTROL', async () => {
    await expect(requestStatus(join(dir, 'absent.sock'))).rejects.toMatchObject({
      code: 'ERR_AGENT_CONTROL',
      message: expect.stringContaining('(ENOENT): is it running?'),
    });
    const silentPath = join(dir, 'silent.sock');
    await rawServer(silentPath, () => {});
    await expect(requestStatus(silentPath, { timeoutMs: 200 })).rejects.toThrow('no answer from the agent');
    const liarPath = join(dir, 'liar.sock');
    await rawServer(liarPath, (s) => s.end('not json\n'));
    await expect(requestStatus(liarPath)).rejects.toThrow('malformed reply');
  });
});

describe('mesh-agent CLI', () => {
  function configFile(socket: string): string {
    const file = join(dir, `config${n++}.json`);
    writeFileSync(file, JSON.stringify({ ...validConfig(), control: { socket } }));
    return file;
  }

  it('status --json prints the snapshot; status prints the table', async () => {
    const { path } = await fakeAgent();
    const file = configFile(path);
    const j = io();
    expect(await main(['status', '--config', file, '--json'], j)).toBe(0);
    expect(JSON.parse(j.out)).toStrictEqual(STATUS);
    const t = io();
    expect(await main(['status', '--config', file], t)).toBe(0);
    expect(t.out).toContain(`${STATUS.peers[0]!.publicKey}  relay`);
    expect(t.out).toMatch(/[2-4]s ago/);
  });

  it('exit codes: 2 for usage and config errors, 1 when the agent is not running', async () => {
    const usage = io();
    expect(await main(['frobnicate'], usage)).toBe(2);
    expect(usage.err).toContain('unknown command "frobnicate"');
    const noConfig = io();
    expect(await main(['up'], noConfig)).toBe(2);
    expect(noConfig.err).toContain('up needs --config FILE');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...validConfig(), signal: { url: 'http://x' } }));
    const cfg = io();
    expect(await main(['up', '--config', bad], cfg)).toBe(2);
    expect(cfg.err).toBe(
      'mesh-agent: config error: config.signal.url: unsupported scheme "http:" in "http://x": expected ws, wss\n',
    );
    const down = io();
    expect(await main(['status', '--config', configFile(join(dir, 'nobody.sock'))], down)).toBe(1);
    expect(down.err).toContain('is it running?');
  });

  it('genkey and pubkey', async () => {
    const g = io();
    expect(await main(['genkey'], g)).toBe(0);
    const p = io(g.out);
    expect(await main(['pubkey'], p)).toBe(0);
    expect(p.out).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    const bad = io('nope');
    expect(await main(['pubkey'], bad)).toBe(1);
    expect(bad.err).toContain('invalid private key');
  });
});
