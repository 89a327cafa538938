// IcePath throughput between two processes on loopback, beside raw UDP between the same two
// processes, at 1,400-byte datagrams. Prints numbers + JSON; asserts nothing.
// Run (after `npx tsup` in packages/ice-worker): tools/with-node node packages/ice-worker/bench/throughput.ts
import { type ChildProcess, fork } from 'node:child_process';
import dgram from 'node:dgram';
import { setImmediate as tick } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { PeerKey } from '@mesh/core';
import { type IcePath, IceWorker } from '@mesh/ice-worker';

const SIZE = 1400;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
// The machine is shared: alternate ICE and raw rounds and report the median of each.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = 32;
const keyA = PeerKey.fromBytes(Buffer.alloc(32, 0xee));
const keyB = PeerKey.fromBytes(Buffer.alloc(32, 0x11));
const loopback = { hostAddresses: ['127.0.0.1'], discoverHostAddresses: false };

type Msg = { t: string; [k: string]: unknown };

function makeWorker(local: PeerKey, remote: PeerKey, send: (m: Msg) => void) {
  const w = new IceWorker({ localKey: local, remoteKey: remote, ...loopback });
  w.on('local-candidate', (msg) => send({ t: 'cand', msg }));
  return w;
}

async function child(): Promise<void> {
  const send = (m: Msg) => process.send!(m);
  const worker = makeWorker(keyB, keyA, send);
  let path: IcePath | undefined;
  let counting = false;
  let rx = 0;
  let rxBytes = 0;
  const count = (d: Buffer) => {
    if (!counting) return;
    rx++;
    rxBytes += d.length;
  };
  worker.on('connected', ({ path: p }) => {
    path = p;
    p.on('data', count);
    send({ t: 'connected' });
  });
  const udp = dgram.createSocket('udp4');
  udp.on('message', count);
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  process.on('message', async (m: Msg) => {
    if (m.t === 'offer') send({ t: 'answer', answer: await worker.onRemoteOffer(m.offer) });
    else if (m.t === 'cand') await worker.addRemoteCandidate(m.msg);
    else if (m.t === 'udp-port') send({ t: 'udp-port', port: udp.address().port });
    else if (m.t === 'start') {
      rx = 0;
      rxBytes = 0;
      counting = true;
      send({ t: 'started' });
    } else if (m.t === 'stop') {
      counting = false;
      send({ t: 'count', rx, rxBytes });
    } else if (m.t === 'exit') {
      path?.close();
      await worker.close();
      udp.close();
      process.exit(0);
    }
  });
  send({ t: 'ready' });
}

function next(c: ChildProcess, t: string): Promise<Msg> {
  return new Promise((resolve) => {
    const on = (m: Msg) => {
      if (m.t !== t) return;
      c.off('message', on);
      resolve(m);
    };
    c.on('message', on);
  });
}

async function blast(send: (b: Buffer) => void): Promise<{ tx: number; seconds: number }> {
  const buf = Buffer.alloc(SIZE, 0xab);
  const start = performance.now();
  const end = start + SECONDS * 1000;
  let tx = 0;
  while (performance.now() < end) {
    for (let i = 0; i < BATCH; i++) send(buf);
    tx += BATCH;
    await tick(); // let the event loop flush sends and receive
  }
  return { tx, seconds: (performance.now() - start) / 1000 };
}

async function measure(c: ChildProcess, send: (b: Buffer) => void) {
  const started = next(c, 'started');
  c.send({ t: 'start' });
  await started;
  const { tx, seconds } = await blast(send);
  await new Promise((r) => setTimeout(r, 300)); // drain in-flight datagrams
  const counted = next(c, 'count');
  c.send({ t: 'stop' });
  const { rx, rxBytes } = (await counted) as unknown as { rx: number; rxBytes: number };
  return {
    sentPackets: tx,
    receivedPackets: rx,
    lossPct: Number((100 * (1 - rx / tx)).toFixed(2)),
    packetsPerSecond: Math.round(rx / seconds),
    mbitPerSecond: Number(((rxBytes * 8) / seconds / 1e6).toFixed(1)),
  };
}

/** The round with the median delivered packet rate. */
function median<T extends { packetsPerSecond: number }>(rounds: T[]): T {
  return [...rounds].sort((a, b) => a.packetsPerSecond - b.packetsPerSecond)[Math.floor(rounds.length / 2)]!;
}

async function parent(): Promise<void> {
  const c = fork(fileURLToPath(import.meta.url), ['child'], { stdio: 'inherit' });
  await next(c, 'ready');
  const worker = makeWorker(keyA, keyB, (m) => c.send(m));
  c.on('message', (m: Msg) => {
    if (m.t === 'cand') void worker.addRemoteCandidate(m.msg);
  });
  const up = new Promise<IcePath>((r) => worker.once('connected', ({ path }) => r(path)));
  const childUp = next(c, 'connected');
  const answered = next(c, 'answer');
  c.send({ t: 'offer', offer: worker.localOffer() });
  await worker.onRemoteAnswer((await answered).answer);
  const path = await up;
  await childUp;

  const portMsg = next(c, 'udp-port');
  c.send({ t: 'udp-port' });
  const port = (await portMsg).port as number;
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  const iceRounds: Awaited<ReturnType<typeof measure>>[] = [];
  const rawRounds: Awaited<ReturnType<typeof measure>>[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    iceRounds.push(await measure(c, (b) => path.send(b)));
    rawRounds.push(await measure(c, (b) => udp.send(b, port, '127.0.0.1')));
  }
  udp.close();
  const ice = median(iceRounds);
  const raw = median(rawRounds);
  c.send({ t: 'exit' });
  await worker.close();

  const result = {
    bench: 'ice-path-throughput',
    datagramBytes: SIZE,
    secondsPerRound: SECONDS,
    rounds: ROUNDS,
    icePath: ice,
    rawUdp: raw,
    samples: { icePath: iceRounds, rawUdp: rawRounds },
  };
  console.log(`IcePath  ${ice.packetsPerSecond} pkt/s  ${ice.mbitPerSecond} Mbit/s  (loss ${ice.lossPct}%)`);
  console.log(`raw UDP  ${raw.packetsPerSecond} pkt/s  ${raw.mbitPerSecond} Mbit/s  (loss ${raw.lossPct}%)`);
  console.log(JSON.stringify(result));
}

if (process.argv[2] === 'child') await child();
else await parent();
