/**
 * Signaling round-trip benchmark on loopback: peer A sends a sealed PeerConn-shaped message to B
 * through a `mesh-signal` child process, B answers, A times the round trip (2 seals, 2 opens, 4
 * WebSocket hops). Then a windowed run (32 in flight) for throughput. Prints a table and one JSON
 * line; asserts nothing.
 *
 *   tools/with-node npx nx run-many -t build -p @mesh/signal-client @mesh/signal-server
 *   cd packages/signal-server && ../../tools/with-node node bench/roundtrip.bench.ts
 *   (BENCH_ROUNDS=2000 BENCH_WINDOW=32 to change the defaults)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { onceEvent, type PeerKey } from '@mesh/core';
import { SignalClient } from '@mesh/signal-client';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2000);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 32);
const WARMUP = 200;
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

function privateKey(): string {
  const d = generateKeyPairSync('x25519').privateKey.export({ format: 'jwk' }).d!;
  return Buffer.from(d, 'base64url').toString('base64');
}

async function startServer(): Promise<{ child: ChildProcess; url: string }> {
  // The default per-connection budget (100 messages/s) is for real agents; the bench measures the path.
  const info = spawn(process.execPath, [CLI, '--listen', '127.0.0.1:0', '--rate-limit', '1000000'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 10_000);
    info.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"event":"signal-listening".*?"port":(\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
  });
  return { child: info, url: `ws://127.0.0.1:${port}` };
}

function candidate(seq: number) {
  return {
    type: 'candidate' as const,
    version: 1,
    sessionId: '0a1b2c3d4e',
    candidate: { seq, candidate: 'candidate:1 1 udp 2130706431 192.0.2.10 51820 typ host', sdpMid: '0' },
  };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const server = await startServer();
  try {
    await run(server.url);
  } finally {
    server.child.kill('SIGTERM');
  }
}

async function run(url: string): Promise<void> {
  const a = new SignalClient({ url, privateKey: privateKey() });
  const b = new SignalClient({ url, privateKey: privateKey() });
  const up = [onceEvent(a, 'connected', { timeoutMs: 5_000 }), onceEvent(b, 'connected', { timeoutMs: 5_000 })];
  a.start();
  b.start();
  await Promise.all(up);
  // B echoes every message back to its sender.
  b.on('message', (from: PeerKey, m: unknown) => void b.send(from, m as ReturnType<typeof candidate>));
  const waiting = new Map<number, () => void>();
  a.on('message', (_from, m) => waiting.get((m as ReturnType<typeof candidate>).candidate.seq)?.());
  // A lost message must fail the bench, not hang it.
  const roundTrip = (seq: number) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`round trip ${seq} lost`)), 5_000);
      waiting.set(seq, () => {
        clearTimeout(t);
        waiting.delete(seq);
        resolve();
      });
      a.send(b.publicKey, candidate(seq)).catch(reject);
    });

  const rtts: number[] = [];
  for (let i = 0; i < WARMUP + ROUNDS; i++) {
    const t0 = performance.now();
    await roundTrip(i);
    if (i >= WARMUP) rtts.push(performance.now() - t0);
  }
  rtts.sort((x, y) => x - y);

  // Windowed: WINDOW round trips in flight.
  const total = ROUNDS * 2;
  let next = WARMUP + ROUNDS;
  const end = next + total;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < end) await roundTrip(next++);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;

  const result = {
    rounds: ROUNDS,
    rttMs: { p50: pct(rtts, 50), p99: pct(rtts, 99), max: rtts[rtts.length - 1]! },
    windowed: { window: WINDOW, roundTripsPerSecond: total / seconds, messagesPerSecond: (2 * total) / seconds },
    rejected: a.stats().rejected,
  };
  console.log('signaling round trip on loopback (A → server → B → server → A, sealed both ways)');
  console.log(
    `  sequential ${ROUNDS} rounds: p50 ${result.rttMs.p50.toFixed(3)} ms  p99 ${result.rttMs.p99.toFixed(3)} ms  max ${result.rttMs.max.toFixed(3)} ms`,
  );
  console.log(
    `  window ${WINDOW}: ${result.windowed.roundTripsPerSecond.toFixed(0)} round trips/s (${result.windowed.messagesPerSecond.toFixed(0)} messages/s through the server)`,
  );
  console.log(JSON.stringify(result));
  await Promise.all([a.stop(), b.stop()]);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
