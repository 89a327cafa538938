/**
 * Relay forwarding benchmark: throughput (1,400-byte payloads) and round-trip latency with 1, 10 and
 * 100 peer pairs through a `mesh-relay` child process, beside a raw `ws` echo child process on the same
 * machine (the ceiling: same two WebSocket hops, no relay logic). Prints a table and one JSON line;
 * asserts nothing.
 *
 *   cd packages/relay-client && npx tsup && cd ../relay-server && npx tsup && node bench/forwarding.bench.ts
 *   (BENCH_SECONDS=3 BENCH_PAIRS=1,10,100 BENCH_WINDOW=32 to change the defaults)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PeerKey } from '@mesh/core';
import { generateRelayToken, RelayClient, type RelayConn } from '@mesh/relay-client';
import WebSocket from 'ws';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const PAIRS = (process.env.BENCH_PAIRS ?? '1,10,100').split(',').map(Number);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 32);
const PAYLOAD = 1400;
const SECRET = 'bench-secret';
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/** One end that can send a payload and tells us what arrives. */
interface Lane {
  send(buf: Buffer): void;
  onData(fn: (buf: Buffer) => void): void;
}

function waitLine(child: ChildProcess, match: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`child did not start: ${out}`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = match.exec(out);
      if (m) {
        clearTimeout(t);
        out = '';
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume(); // keep draining the child's log lines
        resolve(m);
      }
    });
  });
}

async function startRelay(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [CLI, '--listen', '127.0.0.1:0', '--secret', SECRET, '--exposed-address', 'rel://127.0.0.1:1'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const m = await waitLine(child, /"event":"relay-listening".*?"port":(\d+)/);
  return { child, port: Number(m[1]) };
}

const ECHO_SERVER = `
const { WebSocketServer } = require(${JSON.stringify(fileURLToPath(new URL('../../../node_modules/ws/index.js', import.meta.url)))});
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 8820 });
wss.on('connection', (ws) => ws.on('message', (d) => ws.send(d, { binary: true })));
wss.on('listening', () => console.log('port=' + wss.address().port));
`;

async function startEcho(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', ECHO_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const m = await waitLine(child, /port=(\d+)/);
  return { child, port: Number(m[1]) };
}

async function relayLanes(port: number, pairs: number): Promise<{ lanes: Array<[Lane, Lane]>; close(): void }> {
  const clients: RelayClient[] = [];
  const lanes: Array<[Lane, Lane]> = [];
  const asLane = (c: RelayConn): Lane => ({ send: (b) => void c.send(b), onData: (fn) => c.on('data', fn) });
  for (let i = 0; i < pairs; i++) {
    const mk = async () => {
      const c = new RelayClient({
        url: `rel://127.0.0.1:${port}`,
        localKey: PeerKey.fromBytes(randomBytes(32)),
        token: generateRelayToken(SECRET),
        maxBufferedBytes: 64 << 20,
      });
      await c.connect();
      clients.push(c);
      return c;
    };
    const [ca, cb] = await Promise.all([mk(), mk()]);
    const [a, b] = await Promise.all([ca.openConn(cb.localKey), cb.openConn(ca.localKey)]);
    lanes.push([asLane(a), asLane(b)]);
  }
  return {
    lanes,
    close: () => {
      for (const c of clients) c.close();
    },
  };
}

/** Echo "pairs": the sender and receiver are the same socket (two hops via the echo server). */
async function echoLanes(port: number, pairs: number): Promise<{ lanes: Array<[Lane, Lane]>; close(): void }> {
  const sockets: WebSocket[] = [];
  const lanes: Array<[Lane, Lane]> = [];
  for (let i = 0; i < pairs; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    sockets.push(ws);
    const lane: Lane = {
      send: (b) => ws.send(b, { binary: true }),
      onData: (fn) => ws.on('message', (d: Buffer) => fn(d)),
    };
    // The echo "receiver" replying would bounce the message back to the same socket: for latency the
    // echo itself is the reply, so the B side never sends.
    lanes.push([lane, { send: () => {}, onData: () => {} }]);
  }
  return {
    lanes,
    close: () => {
      for (const s of sockets) s.terminate();
    },
  };
}

/** CPU seconds (user + system) a child has used so far, from /proc (Linux; NaN elsewhere). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Windowed flood A→B on every lane for SECONDS; counts payloads received and the server's CPU use. */
async function throughput(lanes: Array<[Lane, Lane]>, echo: boolean, serverPid: number | undefined) {
  const payload = randomBytes(PAYLOAD);
  let received = 0;
  let running = true;
  for (const [a, b] of lanes) {
    let inFlight = 0;
    const pump = () => {
      while (running && inFlight < WINDOW) {
        inFlight++;
        a.send(payload);
      }
    };
    (echo ? a : b).onData(() => {
      received++;
      inFlight--;
      pump();
    });
    pump();
  }
  const t0 = performance.now();
  const cpu0 = cpuSeconds(serverPid);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  running = false;
  const secs = (performance.now() - t0) / 1000;
  const serverCpu = cpuSeconds(serverPid) - cpu0;
  const serverCpuPct = Math.round((serverCpu / secs) * 100);
  await new Promise((r) => setTimeout(r, 200)); // let in-flight drain before the next phase
  const msgsPerSec = received / secs;
  return {
    msgsPerSec: Math.round(msgsPerSec),
    mbitPerSec: Math.round((msgsPerSec * PAYLOAD * 8) / 1e5) / 10,
    serverCpuPct,
    // Load-independent efficiency: messages the server moved per second of its own CPU.
    msgsPerServerCpuSec: Math.round(received / serverCpu),
  };
}

/** One ping in flight per lane: A→B, B replies (relay) / the echo returns (echo); RTT samples. */
async function latency(lanes: Array<[Lane, Lane]>, echo: boolean) {
  const samples: number[] = [];
  let running = true;
  const ping = Buffer.alloc(64, 1);
  for (const [a, b] of lanes) {
    let sentAt = 0;
    const fire = () => {
      if (!running) return;
      sentAt = performance.now();
      a.send(ping);
    };
    if (!echo) b.onData((d) => d.length === 64 && b.send(d));
    a.onData((d) => {
      if (d.length !== 64) return;
      samples.push(performance.now() - sentAt);
      fire();
    });
    fire();
  }
  await new Promise((r) => setTimeout(r, Math.max(1000, (SECONDS * 1000) / 2)));
  running = false;
  await new Promise((r) => setTimeout(r, 200));
  samples.sort((x, y) => x - y);
  const q = (p: number) =>
    Math.round((samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] ?? Number.NaN) * 1000) / 1000;
  return { rttP50Ms: q(0.5), rttP99Ms: q(0.99), samples: samples.length };
}

async function main() {
  const relay = await startRelay();
  const echo = await startEcho();
  const results: Array<Record<string, unknown>> = [];
  try {
    for (const pairs of PAIRS) {
      for (const kind of ['relay', 'ws-echo'] as const) {
        const isEcho = kind === 'ws-echo';
        // Fresh connections per phase so listeners from one phase never see the other's traffic.
        const t = isEcho ? await echoLanes(echo.port, pairs) : await relayLanes(relay.port, pairs);
        const tp = await throughput(t.lanes, isEcho, (isEcho ? echo : relay).child.pid);
        t.close();
        const l = isEcho ? await echoLanes(echo.port, pairs) : await relayLanes(relay.port, pairs);
        const lat = await latency(l.lanes, isEcho);
        l.close();
        const row = { kind, pairs, payloadBytes: PAYLOAD, window: WINDOW, ...tp, ...lat };
        results.push(row);
        console.log(
          `${kind.padEnd(8)} pairs=${String(pairs).padStart(3)}  ${String(tp.msgsPerSec).padStart(7)} msg/s  ${String(tp.mbitPerSec).padStart(7)} Mbit/s  server cpu ${String(tp.serverCpuPct).padStart(3)}% (${tp.msgsPerServerCpuSec} msg/cpu-s)  rtt p50 ${lat.rttP50Ms} ms  p99 ${lat.rttP99Ms} ms  (${lat.samples} samples)`,
        );
      }
    }
  } finally {
    relay.child.kill('SIGTERM');
    echo.child.kill('SIGKILL');
  }
  console.log(JSON.stringify({ bench: 'relay-forwarding', seconds: SECONDS, node: process.version, results }));
}

await main();
