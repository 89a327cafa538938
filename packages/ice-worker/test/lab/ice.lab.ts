import { fileURLToPath } from 'node:url';
import { generateKeyPair, Lab, type LabProcess } from '@mesh/lab';
import { afterEach, describe, expect, it } from 'vitest';

// Workers run as separate Node processes in peerA/peerB and import the BUILT @mesh/ice-worker
// (build it first: `cd packages/ice-worker && npx tsup`). This process only relays their
// offers, answers and candidates (JSON lines), like a signaling server would.
const FIXTURE = fileURLToPath(new URL('./fixtures/ice-peer.mjs', import.meta.url));
const OVERLAY = '100.64.0.0/10';

type Ev = { ev: string; [k: string]: unknown };

class Peer {
  constructor(readonly proc: LabProcess) {}

  async next(ev: string, options: { after?: number; timeoutMs?: number; filter?: (e: Ev) => boolean } = {}) {
    const line = await this.proc.waitForLine(
      (l) => {
        const e = parse(l);
        return e?.ev === ev && (!options.filter || options.filter(e));
      },
      { after: options.after ?? 0, timeoutMs: options.timeoutMs ?? 20_000 },
    );
    return parse(line)!;
  }

  /** Sends a command and waits for the event it produces. */
  async request(cmd: Record<string, unknown>, ev: string, timeoutMs?: number): Promise<Ev> {
    const after = this.proc.lines.length;
    this.proc.send(cmd);
    return this.next(ev, { after, timeoutMs });
  }

  events(ev: string): Ev[] {
    return this.proc.lines.map(parse).filter((e): e is Ev => e?.ev === ev);
  }
}

function parse(line: string): Ev | undefined {
  try {
    return JSON.parse(line) as Ev;
  } catch {
    return undefined;
  }
}

/** Peers of the running test (their output is printed on failure with ICE_PEER_DEBUG=1). */
const peers: Peer[] = [];

async function startPeers(lab: Lab, extra: Record<string, unknown> = {}, extraA: Record<string, unknown> = {}) {
  const ka = generateKeyPair();
  const kb = generateKeyPair();
  const spawn = (ns: 'peerA' | 'peerB', local: string, remote: string, more: Record<string, unknown>) =>
    new Peer(
      lab.spawnNode(ns, FIXTURE, [JSON.stringify({ local, remote, ...extra, ...more })], {
        name: `ice-${ns}`,
        // ICE_PEER_DEBUG=1 in the test's environment: worker + werift logs on each peer's stderr.
        ...(process.env.ICE_PEER_DEBUG
          ? { env: { ...(process.env as Record<string, string>), DEBUG: 'werift-ice*' } }
          : {}),
      }),
    );
  const a = spawn('peerA', ka.publicKey, kb.publicKey, extraA);
  const b = spawn('peerB', kb.publicKey, ka.publicKey, {});
  peers.push(a, b);
  // Trickle: every local candidate goes to the other side as soon as it is printed.
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    from.proc.on('line', (l) => {
      const e = parse(l);
      if (e?.ev === 'local-candidate') to.proc.send({ cmd: 'candidate', msg: e.msg });
    });
  }
  await Promise.all([a.next('ready'), b.next('ready')]);
  return { a, b };
}

/** `from` offers, `to` answers, `from` takes the answer. */
async function offerRound(from: Peer, to: Peer): Promise<void> {
  const { offer } = await from.request({ cmd: 'offer' }, 'offer');
  const { answer } = await to.request({ cmd: 'remote-offer', offer }, 'answer');
  await from.request({ cmd: 'remote-answer', answer }, 'answer-taken');
}

interface Pair {
  local: { type: string; address: string; port: number };
  remote: { type: string; address: string; port: number };
  rttMs: number;
  kind: string;
}

describe('IceWorker in the lab', () => {
  let lab: Lab | undefined;
  afterEach(async (ctx) => {
    if (process.env.ICE_PEER_DEBUG && ctx.task.result?.state === 'fail') {
      for (const p of peers)
        console.log(`=== ${p.proc.ns}\n${p.proc.lines.join('\n')}\n${p.proc.stderrLines.join('\n')}`);
    }
    peers.length = 0;
    await lab?.destroy();
    lab = undefined;
  });

  it('two cone NATs: connects over server-reflexive candidates (ice-direct), never offering excluded addresses; UDP blocked → disconnected, state cleared', async () => {
    lab = await Lab.create({ natA: 'cone', natB: 'cone' });
    const turn = await lab.startCoturn({ user: 'u', password: 'p' });
    // A WireGuard interface (wireguard-go, TUN) with an overlay address in peerA: werift gathers
    // it like any NIC, and it must never become a candidate (ICE must not run through the tunnel).
    const wg = await lab.startWireguardGo('peerA', { address: '100.64.0.1/10' });
    // Control: without exclusion werift does gather it (so the assertion below can fail).
    const probe = new Peer(lab.spawnNode('peerA', FIXTURE, [JSON.stringify({ probe: true })], { name: 'probe' }));
    expect((await probe.next('probe')).addresses).toContain('100.64.0.1');

    const { a, b } = await startPeers(
      lab,
      { stun: { host: lab.addr.svc, port: 3478 }, connectTimeoutMs: 15_000 },
      { excludedAddresses: [OVERLAY] },
    );
    await offerRound(a, b);
    const [ca, cb] = await Promise.all([a.next('connected'), b.next('connected')]);
    const pa = ca.pair as Pair;
    const pb = cb.pair as Pair;
    expect(ca.kind).toBe('ice-direct');
    expect(cb.kind).toBe('ice-direct');
    // Each side reaches the other at its NAT's public address (a server-reflexive mapping).
    expect(pa.remote.address).toBe(lab.addr.natBWan);
    expect(pb.remote.address).toBe(lab.addr.natAWan);
    expect(['srflx', 'prflx']).toContain(pa.remote.type);
    const srflxA = a.events('local-candidate').map((e) => (e.msg as { candidate: string }).candidate);
    expect(srflxA.some((c) => c.includes(` ${lab!.addr.natAWan} `) && c.includes('typ srflx'))).toBe(true);
    expect(srflxA.filter((c) => c.includes('100.64.'))).toEqual([]);
    // Data both ways.
    a.proc.send({ cmd: 'send', text: 'hello from A' });
    b.proc.send({ cmd: 'send', text: 'hello from B' });
    await b.next('data', { filter: (e) => e.text === 'hello from A' });
    await a.next('data', { filter: (e) => e.text === 'hello from B' });
    console.log(
      JSON.stringify({ scenario: 'cone-cone', connectMs: [ca.connectMs, cb.connectMs], pairA: pa, pairB: pb }),
    );

    // Block peer↔peer UDP at natA: consent freshness must end the session on both sides.
    const blockedAt = Date.now();
    await lab.blockUdp('natA', true);
    const [da, db] = await Promise.all([
      a.next('disconnected', { timeoutMs: 60_000 }),
      b.next('disconnected', { timeoutMs: 60_000 }),
    ]);
    const tookMs = Date.now() - blockedAt;
    console.log(
      JSON.stringify({ scenario: 'udp-blocked', disconnectAfterMs: tookMs, reasons: [da.reason, db.reason] }),
    );
    expect(da.wasConnected).toBe(true);
    expect(['failed', 'disconnected']).toContain(da.reason);
    // werift 0.25.2: consent expires 30 s after the last response; checks every 4–6 s.
    expect(tookMs).toBeLessThan(40_000);
    const st = await a.request({ cmd: 'status' }, 'status');
    expect(st).toMatchObject({ remoteSessionId: null, connecting: false, path: null, buffered: 0 });
    expect(st.sessionId).not.toBe(ca.sessionId);
    await turn.stop();
    await wg.stop();
  }, 150_000);

  it.each(['udp', 'tcp'] as const)(
    'two symmetric NATs: connects through a TURN relay candidate (ice-turn), TURN over %s',
    async (transport) => {
      lab = await Lab.create({ natA: 'symmetric', natB: 'symmetric' });
      await lab.startCoturn({ user: 'u', password: 'p' });
      const server = { host: lab.addr.svc, port: 3478 };
      const { a, b } = await startPeers(lab, {
        stun: server,
        turn: { ...server, username: 'u', password: 'p', transport },
      });
      await offerRound(a, b);
      const [ca, cb] = await Promise.all([a.next('connected'), b.next('connected')]);
      expect(ca.kind).toBe('ice-turn');
      expect(cb.kind).toBe('ice-turn');
      const pa = ca.pair as Pair;
      const pb = cb.pair as Pair;
      expect(pa.local.type === 'relay' || pa.remote.type === 'relay').toBe(true);
      a.proc.send({ cmd: 'send', text: 'via turn' });
      await b.next('data', { filter: (e) => e.text === 'via turn' });
      b.proc.send({ cmd: 'send', text: 'back via turn' });
      await a.next('data', { filter: (e) => e.text === 'back via turn' });
      console.log(
        JSON.stringify({
          scenario: `symmetric-turn-${transport}`,
          connectMs: [ca.connectMs, cb.connectMs],
          pairA: pa,
          pairB: pb,
        }),
      );
    },
    120_000,
  );

  it('symmetric NATs, TURN only at A, every remote candidate known before A allocates: A still checks from its relay candidate', async () => {
    // Regression for werift 0.25.2 pairing a TURN socket only with remote candidates that arrive
    // after its allocation: here B's candidates are all buffered at A before A's agent exists, and
    // the only working path needs A's relay (A must send through it so coturn permits B).
    lab = await Lab.create({ natA: 'symmetric', natB: 'symmetric' });
    await lab.startCoturn({ user: 'u', password: 'p' });
    const server = { host: lab.addr.svc, port: 3478 };
    const { a, b } = await startPeers(lab, { stun: server }, { turn: { ...server, username: 'u', password: 'p' } });
    const { offer } = await a.request({ cmd: 'offer' }, 'offer');
    const { answer } = await b.request({ cmd: 'remote-offer', offer }, 'answer');
    // Wait until B has trickled host + srflx and A has buffered both, then let A build its agent.
    await b.next('local-candidate', {
      filter: (e) => String((e.msg as { candidate: string }).candidate).includes('srflx'),
    });
    for (let i = 0; i < 50; i++) {
      if ((await a.request({ cmd: 'status' }, 'status')).buffered === 2) break;
    }
    expect((await a.request({ cmd: 'status' }, 'status')).buffered).toBe(2);
    await a.request({ cmd: 'remote-answer', answer }, 'answer-taken');
    const [ca, cb] = await Promise.all([a.next('connected'), b.next('connected')]);
    expect(ca.kind).toBe('ice-turn');
    expect(cb.kind).toBe('ice-turn');
    expect((ca.pair as Pair).local.type).toBe('relay');
  }, 60_000);
});
