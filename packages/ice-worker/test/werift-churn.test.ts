import { onceEvent } from '@mesh/core';
import { type IceAgent, type IceAgentConfig, type IceWorker, weriftAgentFactory } from '@mesh/ice-worker';
import { afterEach, describe, expect, it } from 'vitest';
import { loopbackAgentConfig } from './helpers/werift.js';
import { offerRound, type Recorded, record, trickle, workerPair } from './helpers/workers.js';

function workers(connectTimeoutMs = 10_000) {
  const agents: IceAgent[] = [];
  const agentFactory = (config: IceAgentConfig) => {
    const agent = weriftAgentFactory(config);
    agents.push(agent);
    return agent;
  };
  const [a, b] = workerPair({ ...loopbackAgentConfig, hostAddresses: ['127.0.0.1'], agentFactory, connectTimeoutMs });
  return { a, b, agents };
}

const connected = (w: IceWorker) => onceEvent(w, 'connected', { timeoutMs: 10_000 });
const count = (log: Recorded[], e: Recorded['event']) => log.filter((r) => r.event === e).length;

type Resources = Record<string, number>;
function resources(): Resources {
  const out: Resources = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}
/** Types whose count is above the baseline. */
function excess(base: Resources): Resources {
  const now = resources();
  const out: Resources = {};
  for (const [k, v] of Object.entries(now)) if (v > (base[k] ?? 0)) out[k] = v - (base[k] ?? 0);
  return out;
}

describe('IceWorker churn over real werift (loopback)', () => {
  const open: IceWorker[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((w) => w.close()));
  });

  it('100 offers with the same session id in 2 s: one agent per side, no reconnect', async () => {
    const { a, b, agents } = workers();
    open.push(a, b);
    trickle(a, b);
    const logA = record(a);
    const logB = record(b);
    const up = Promise.all([connected(a), connected(b)]);
    await offerRound(a, b);
    await up;
    const started = performance.now();
    for (let i = 0; i < 100; i++) {
      await offerRound(i % 2 ? a : b, i % 2 ? b : a);
      await new Promise((r) => setTimeout(r, 15)); // pacing: 100 offers over ~2 s
    }
    expect(performance.now() - started).toBeLessThan(4000);
    expect(agents).toHaveLength(2);
    expect(agents.map((x) => x.state)).toEqual(['connected', 'connected']);
    for (const log of [logA, logB]) {
      expect(count(log, 'connected')).toBe(1);
      expect(count(log, 'disconnected')).toBe(0);
      expect(count(log, 'session-rotated')).toBe(0);
    }
  });

  it('glare: both workers offer at the same instant and converge on one session', async () => {
    const { a, b, agents } = workers();
    open.push(a, b);
    trickle(a, b);
    const up = Promise.all([connected(a), connected(b)]);
    const [offerA, offerB] = [a.localOffer(), b.localOffer()];
    const [answerB, answerA] = await Promise.all([b.onRemoteOffer(offerA), a.onRemoteOffer(offerB)]);
    await Promise.all([a.onRemoteAnswer(answerB), b.onRemoteAnswer(answerA)]);
    const [[ca], [cb]] = await up;
    expect(ca.remoteSessionId).toBe(cb.sessionId);
    expect(cb.remoteSessionId).toBe(ca.sessionId);
    expect(agents).toHaveLength(2);
    // Glare again after both reset at once (e.g. both watchers fired): still one round.
    a.resetSessionId();
    b.resetSessionId();
    const again = Promise.all([connected(a), connected(b)]);
    const [oa, ob] = [a.localOffer(), b.localOffer()];
    const [ansB, ansA] = await Promise.all([b.onRemoteOffer(oa), a.onRemoteOffer(ob)]);
    await Promise.all([a.onRemoteAnswer(ansB), b.onRemoteAnswer(ansA)]);
    await again;
    expect(a.remoteSessionId).toBe(b.sessionId);
    expect(b.remoteSessionId).toBe(a.sessionId);
    expect(agents).toHaveLength(4);
    expect(agents.filter((x) => x.state !== 'closed')).toHaveLength(2);
  });

  it('1,000 create / connect-or-abort / close cycles return sockets and timers to the baseline', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const cycle = async (i: number) => {
        const kind = i % 4;
        const { a, b, agents } = workers(kind === 3 ? 50 : 10_000);
        if (kind !== 3) trickle(a, b);
        try {
          if (kind === 0) {
            // Closed mid-gather: sockets are still being bound.
            await b.onRemoteOffer(a.localOffer());
          } else if (kind === 1) {
            // Closed mid-connect: candidates flowing, checks running.
            const cand = onceEvent(b, 'local-candidate', { timeoutMs: 5000 });
            await offerRound(a, b);
            await cand;
          } else if (kind === 2) {
            const up = Promise.all([connected(a), connected(b)]);
            await offerRound(a, b);
            const [[ca]] = await up;
            ca.path.send(Buffer.from('x'));
          } else {
            // Aborted by the connect deadline (no candidates exchanged).
            const down = onceEvent(b, 'disconnected', { timeoutMs: 5000 });
            await offerRound(a, b);
            await down;
          }
        } finally {
          await Promise.all([a.close(), b.close()]);
          await Promise.all(agents.map((x) => (x as { released?: Promise<void> }).released));
        }
      };
      await cycle(2); // warm-up: lazy module state is not a leak
      const base = resources();
      const batch = 8;
      for (let i = 0; i < 1000; i += batch) {
        await Promise.all(Array.from({ length: batch }, (_, j) => cycle(i + j)));
      }
      // Sockets close asynchronously: wait (bounded) for the counts to come back.
      const deadline = Date.now() + 10_000;
      while (Object.keys(excess(base)).length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(excess(base)).toEqual({});
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  }, 180_000);
});
