import { hasCode, onceEvent } from '@mesh/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { CandidateAddress, IceAgent } from '../agent.js';
import { newLocalSession } from '../wire.js';

export interface IceAgentContractSetup {
  /** Builds an agent (not yet gathering) with these credentials; `excluded` goes to its config. */
  create(options: { controlling: boolean; credentials: { ufrag: string; pwd: string }; excluded?: string[] }): IceAgent;
  /** A CIDR covering every host address the agents gather (to test exclusion). */
  hostRange: string;
  /** Sends `data` to `target` (a local candidate of some agent) from an address no agent uses. */
  strangerSend(target: CandidateAddress, data: Buffer): Promise<void>;
  /** Releases everything the harness opened (agents are closed by the suite). */
  teardown(): Promise<void> | void;
}

/**
 * The behaviour every IceAgent must have; run against WeriftIceAgent (real sockets on loopback)
 * and FakeIceAgent, so unit tests on the fake mean something for the real thing.
 */
export function describeIceAgentContract(name: string, setup: () => Promise<IceAgentContractSetup>): void {
  describe(`IceAgent contract: ${name}`, () => {
    let env: IceAgentContractSetup | undefined;
    const agents: IceAgent[] = [];
    afterEach(async () => {
      await Promise.all(agents.splice(0).map((a) => a.close()));
      await env?.teardown();
      env = undefined;
    });

    const make = async (excluded?: string[]) => {
      env = await setup();
      const a = env.create({ controlling: true, credentials: newLocalSession(), excluded });
      const b = env.create({ controlling: false, credentials: newLocalSession(), excluded });
      agents.push(a, b);
      const hostOf = new Map<IceAgent, CandidateAddress>();
      for (const [x, y] of [
        [a, b],
        [b, a],
      ] as const) {
        x.on('candidate', (c, info) => {
          if (info.type === 'host' && !hostOf.has(x)) hostOf.set(x, info);
          void y.addRemoteCandidate(c);
        });
        x.setRemoteCredentials(y.credentials);
      }
      return { a, b, hostOf, env };
    };

    const connectBoth = async (a: IceAgent, b: IceAgent) => {
      const signal = AbortSignal.timeout(10_000);
      void a.gather();
      void b.gather();
      return Promise.all([a.connect({ signal }), b.connect({ signal })]);
    };

    it('connects once both sides have credentials and candidates, and reports the pair', async () => {
      const { a, b } = await make();
      const [pa, pb] = await connectBoth(a, b);
      expect(a.state).toBe('connected');
      expect(b.state).toBe('connected');
      expect(pa.remote.port).toBe(pb.local.port);
      expect(pb.remote.port).toBe(pa.local.port);
      expect(pa.local.type).toBe('host');
    });

    it('carries datagrams both ways, and nothing before it connects', async () => {
      const { a, b } = await make();
      expect(a.send(Buffer.from('early'))).toBe(false);
      await connectBoth(a, b);
      const atB = onceEvent(b, 'data', { timeoutMs: 5000 });
      expect(a.send(Buffer.from('ping'))).toBe(true);
      expect(String((await atB)[0])).toBe('ping');
      const atA = onceEvent(a, 'data', { timeoutMs: 5000 });
      expect(b.send(new Uint8Array([112, 111, 110, 103]))).toBe(true);
      expect(String((await atA)[0])).toBe('pong');
    });

    it('delivers datagrams only from remote addresses that passed an ICE check (never a stranger)', async () => {
      const { a, b, hostOf, env } = await make();
      await connectBoth(a, b);
      const heard: string[] = [];
      b.on('data', (d) => heard.push(String(d)));
      await env.strangerSend(hostOf.get(b)!, Buffer.from('stranger'));
      const good = onceEvent(b, 'data', { timeoutMs: 5000, filter: (d) => String(d) === 'good' });
      a.send(Buffer.from('good'));
      await good;
      expect(heard).toEqual(['good']);
    });

    it('connect() rejects when its signal aborts', async () => {
      const { a } = await make();
      void a.gather();
      const err = await a.connect({ signal: AbortSignal.timeout(100) }).catch((e) => e);
      expect(hasCode(err, 'ERR_ABORTED') || hasCode(err, 'ERR_TIMEOUT')).toBe(true);
    });

    it('close() ends a pending connect, is idempotent and silences the agent', async () => {
      const { a } = await make();
      void a.gather();
      const pending = a.connect().catch((e) => e);
      await a.close();
      await a.close();
      expect(hasCode(await pending, 'ERR_CLOSED')).toBe(true);
      expect(a.state).toBe('closed');
      expect(a.send(Buffer.from('x'))).toBe(false);
      expect(await a.addRemoteCandidate('candidate:1 1 udp 2130706431 127.0.0.1 9 typ host')).toBe(false);
      expect(hasCode(await a.connect().catch((e) => e), 'ERR_CLOSED')).toBe(true);
    });

    it('rejects malformed remote candidates without throwing', async () => {
      const { a } = await make();
      expect(await a.addRemoteCandidate('garbage')).toBe(false);
      expect(await a.addRemoteCandidate('candidate:1 1 udp 1 not-an-ip 9 typ host')).toBe(false);
    });

    it('never offers a candidate on an excluded address', async () => {
      const { a, env } = await make();
      await a.close();
      const c = env.create({ controlling: true, credentials: newLocalSession(), excluded: [env.hostRange] });
      agents.push(c);
      const seen: string[] = [];
      c.on('candidate', (cand) => seen.push(cand));
      await c.gather();
      expect(seen).toEqual([]);
    });
  });
}
