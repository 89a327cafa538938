// Time to `connected`, p50/p95: host pairs on loopback (in-process), and — as root, with --lab —
// server-reflexive (two cone NATs + STUN) and TURN (two symmetric NATs + coturn) pairs in the lab.
// Prints numbers + JSON; asserts nothing.
// Run (after `npx tsup` in packages/ice-worker and tools/lab):
//   tools/with-node node packages/ice-worker/bench/connect-time.ts [--lab] [--trials N]
import { fileURLToPath } from 'node:url';
import { PeerKey } from '@mesh/core';
import { type IceConnectedInfo, IceWorker } from '@mesh/ice-worker';

const argv = process.argv.slice(2);
const TRIALS = Number(argv[argv.indexOf('--trials') + 1] || 30);
const keyA = PeerKey.fromBytes(Buffer.alloc(32, 0xee));
const keyB = PeerKey.fromBytes(Buffer.alloc(32, 0x11));

function stats(samples: number[]) {
  const s = [...samples].sort((x, y) => x - y);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  const r = (v: number) => Math.round(v * 10) / 10;
  return { n: s.length, p50: r(at(0.5)), p95: r(at(0.95)), min: r(s[0] ?? Number.NaN), max: r(s.at(-1) ?? Number.NaN) };
}

const connected = (w: IceWorker) => new Promise<IceConnectedInfo>((r) => w.once('connected', r));

/** One offer round between two in-process workers; ms until both report `connected`. */
async function hostTrial(): Promise<number> {
  const opts = { hostAddresses: ['127.0.0.1'], discoverHostAddresses: false };
  const a = new IceWorker({ localKey: keyA, remoteKey: keyB, ...opts });
  const b = new IceWorker({ localKey: keyB, remoteKey: keyA, ...opts });
  a.on('local-candidate', (m) => void b.addRemoteCandidate(m));
  b.on('local-candidate', (m) => void a.addRemoteCandidate(m));
  const start = performance.now();
  const up = Promise.all([connected(a), connected(b)]);
  await a.onRemoteAnswer(await b.onRemoteOffer(a.localOffer()));
  await up;
  const ms = performance.now() - start;
  await Promise.all([a.close(), b.close()]);
  return ms;
}

async function labTrials(kind: 'srflx' | 'turn'): Promise<number[]> {
  const { Lab, generateKeyPair } = await import('@mesh/lab');
  const fixture = fileURLToPath(new URL('../test/lab/fixtures/ice-peer.mjs', import.meta.url));
  const lab = await Lab.create(
    kind === 'srflx' ? { natA: 'cone', natB: 'cone' } : { natA: 'symmetric', natB: 'symmetric' },
  );
  try {
    await lab.startCoturn({ user: 'u', password: 'p' });
    const server = { host: lab.addr.svc, port: 3478 };
    const extra =
      kind === 'srflx' ? { stun: server } : { stun: server, turn: { ...server, username: 'u', password: 'p' } };
    const ka = generateKeyPair();
    const kb = generateKeyPair();
    const spawn = (ns: 'peerA' | 'peerB', local: string, remote: string) =>
      lab.spawnNode(ns, fixture, [JSON.stringify({ local, remote, ...extra })]);
    const a = spawn('peerA', ka.publicKey, kb.publicKey);
    const b = spawn('peerB', kb.publicKey, ka.publicKey);
    const ev = (l: string) => {
      try {
        return JSON.parse(l) as { ev: string; [k: string]: unknown };
      } catch {
        return undefined;
      }
    };
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      from.on('line', (l) => {
        const e = ev(l);
        if (e?.ev === 'local-candidate') to.send({ cmd: 'candidate', msg: e.msg });
      });
    }
    const request = async (p: typeof a, cmd: object, name: string, after = p.lines.length) => {
      p.send(cmd);
      return ev(await p.waitForLine((l) => ev(l)?.ev === name, { after, timeoutMs: 20_000 }))!;
    };
    await Promise.all([a.waitForLine(/"ready"/), b.waitForLine(/"ready"/)]);
    const samples: number[] = [];
    for (let i = 0; i < TRIALS; i++) {
      // Each trial: a fresh session (reset on A, then an offer from A) — both sides build new agents.
      if (i > 0) await request(a, { cmd: 'reset' }, 'reset-done');
      const [la, lb] = [a.lines.length, b.lines.length];
      const start = performance.now();
      const { offer } = await request(a, { cmd: 'offer' }, 'offer');
      const { answer } = await request(b, { cmd: 'remote-offer', offer }, 'answer');
      a.send({ cmd: 'remote-answer', answer });
      const want = kind === 'srflx' ? 'ice-direct' : 'ice-turn';
      await Promise.all(
        [a, b].map((p, j) =>
          p.waitForLine((l) => ev(l)?.ev === 'connected' && ev(l)?.kind === want, {
            after: j ? lb : la,
            timeoutMs: 30_000,
          }),
        ),
      );
      samples.push(performance.now() - start);
    }
    return samples;
  } finally {
    await lab.destroy();
  }
}

const result: Record<string, unknown> = { bench: 'ice-connect-time', trials: TRIALS };
const host: number[] = [];
for (let i = 0; i < TRIALS; i++) host.push(await hostTrial());
result.host = stats(host);
console.log(
  `host (loopback)   p50 ${(result.host as { p50: number }).p50} ms  p95 ${(result.host as { p95: number }).p95} ms`,
);
if (argv.includes('--lab')) {
  for (const kind of ['srflx', 'turn'] as const) {
    result[kind] = stats(await labTrials(kind));
    const s = result[kind] as { p50: number; p95: number };
    console.log(`${kind.padEnd(16)}  p50 ${s.p50} ms  p95 ${s.p95} ms`);
  }
}
console.log(JSON.stringify(result));
process.exit(0);
