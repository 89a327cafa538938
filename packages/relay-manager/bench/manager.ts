// RelayManager costs on loopback with real relay servers (in-process): home race, openConn on the
// home and on a foreign server (cold = dial + auth + subscribe, warm = client reused), open/close
// cycles through the manager vs the bare RelayClient, and relay-restart recovery with the default
// quick retry. Prints numbers + JSON; asserts nothing.
// Run (after building core, relay-client, relay-server and relay-manager, e.g.
// `npx nx run @mesh/relay-manager:build`):
//   tools/with-node node packages/relay-manager/bench/manager.ts [--trials N] [--cycles N]
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { onceEvent, PeerKey, silentLogger } from '@mesh/core';
import { generateRelayToken, RelayClient } from '@mesh/relay-client';
import { RelayManager, type RelayManagerOptions } from '@mesh/relay-manager';
import { RelayServer } from '@mesh/relay-server';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const TRIALS = arg('--trials', 20);
const CYCLES = arg('--cycles', 1_000);
const SECRET = 'bench-secret';
const token = () => generateRelayToken(SECRET).toString('base64');
const key = () => PeerKey.fromBytes(randomBytes(32));

function stats(samples: number[]) {
  const s = [...samples].sort((x, y) => x - y);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  const r = (v: number) => Math.round(v * 100) / 100;
  return { n: s.length, p50: r(at(0.5)), p95: r(at(0.95)), min: r(s[0] ?? Number.NaN), max: r(s.at(-1) ?? Number.NaN) };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function server(port?: number): Promise<RelayServer> {
  const p = port ?? (await freePort());
  const s = new RelayServer({ port: p, exposedAddress: `rel://127.0.0.1:${p}`, secret: SECRET });
  await s.start();
  return s;
}

function manager(urls: string[], extra: Partial<RelayManagerOptions> = {}): RelayManager {
  return new RelayManager({ urls, token, localKey: key(), logger: silentLogger, ...extra });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const s1 = await server();
const s2 = await server();
const dead = [`rel://127.0.0.1:${await freePort()}`, `rel://127.0.0.1:${await freePort()}`];

const results: Record<string, unknown> = {};

// 1. start(): one URL, and three URLs of which two refuse.
{
  const one: number[] = [];
  const three: number[] = [];
  for (let i = 0; i < TRIALS; i++) {
    const a = manager([s1.instanceUrl]);
    one.push(await timed(() => a.start()));
    await a.stop();
    const b = manager([...dead, s1.instanceUrl]);
    three.push(await timed(() => b.start()));
    await b.stop();
  }
  results.startOneUrlMs = stats(one);
  results.startThreeUrlsTwoDeadMs = stats(three);
}

// 2. openConn on the home, on a foreign server cold (new client) and warm (client reused).
{
  const home: number[] = [];
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < TRIALS; i++) {
    const peers = [key(), key()];
    const remotes = await Promise.all(
      peers.map(async (k) => {
        const c = new RelayClient({ url: s1.instanceUrl, localKey: k, token, logger: silentLogger });
        await c.connect();
        return c;
      }),
    );
    const onHome = manager([s1.instanceUrl]);
    const onS2 = manager([s2.instanceUrl]);
    await Promise.all([onHome.start(), onS2.start()]);
    home.push(await timed(() => onHome.openConn(s1.instanceUrl, peers[0]!)));
    cold.push(await timed(() => onS2.openConn(s1.instanceUrl, peers[0]!)));
    warm.push(await timed(() => onS2.openConn(s1.instanceUrl, peers[1]!)));
    await Promise.all([onHome.stop(), onS2.stop()]);
    for (const r of remotes) r.close();
  }
  results.openConnHomeMs = stats(home);
  results.openConnForeignColdMs = stats(cold);
  results.openConnForeignWarmMs = stats(warm);
}

// 3. open/close cycles through the manager vs the bare client (same server, peer online).
{
  const peer = key();
  const remote = new RelayClient({ url: s1.instanceUrl, localKey: peer, token, logger: silentLogger });
  await remote.connect();
  const m = manager([s1.instanceUrl]);
  await m.start();
  const viaManager = await timed(async () => {
    for (let i = 0; i < CYCLES; i++) (await m.openConn(s1.instanceUrl, peer)).close();
  });
  const bare = new RelayClient({ url: s1.instanceUrl, localKey: key(), token, logger: silentLogger });
  await bare.connect();
  const viaClient = await timed(async () => {
    for (let i = 0; i < CYCLES; i++) (await bare.openConn(peer)).close();
  });
  results.openCloseCycles = {
    cycles: CYCLES,
    managerPerSec: Math.round(CYCLES / (viaManager / 1000)),
    clientPerSec: Math.round(CYCLES / (viaClient / 1000)),
    managerOverheadUsPerCycle: Math.round(((viaManager - viaClient) / CYCLES) * 1000),
  };
  await m.stop();
  bare.close();
  remote.close();
}

// 4. Home relay restart (stop, start again at once on the same port): loss → reconnected, defaults.
{
  const samples: number[] = [];
  const port = await freePort();
  let s = await server(port);
  const m = manager([s.instanceUrl]);
  await m.start();
  for (let i = 0; i < Math.min(TRIALS, 5); i++) {
    const back = onceEvent(m, 'reconnected', { timeoutMs: 30_000 });
    const t0 = performance.now();
    await s.stop();
    s = await server(port);
    await back;
    samples.push(performance.now() - t0);
  }
  results.homeRestartToReconnectedMs = { ...stats(samples), quickRetryMs: '1000 ±50 %' };
  await m.stop();
  await s.stop();
}

await Promise.all([s1.stop(), s2.stop()]);

for (const [name, value] of Object.entries(results)) console.log(name.padEnd(28), JSON.stringify(value));
console.log(JSON.stringify({ bench: '@mesh/relay-manager', trials: TRIALS, node: process.version, results }));
