import { FakeClock, hasCode, onceEvent } from '@mesh/core';
import { type IceConnectedInfo, type IceWorker, isSessionId } from '@mesh/ice-worker';
import { FakeIceNetwork } from '@mesh/ice-worker/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keys, offerRound, type Recorded, record, trickle, workerPair } from './helpers/workers.js';

const events = (log: Recorded[], name: Recorded['event']) => log.filter((r) => r.event === name).map((r) => r.args[0]);

describe('IceWorker (FakeIceAgent, FakeClock)', () => {
  let clock: FakeClock;
  let net: FakeIceNetwork;
  let a: IceWorker;
  let b: IceWorker;
  let logA: Recorded[];
  let logB: Recorded[];

  const setup = (opts: { closeDelayMs?: number; max?: number; ttlMs?: number } = {}) => {
    clock = new FakeClock();
    net = new FakeIceNetwork({ clock, connectDelayMs: 20, closeDelayMs: opts.closeDelayMs ?? 0 });
    [a, b] = workerPair({
      clock,
      agentFactory: net.factory,
      connectTimeoutMs: 5000,
      candidateBuffer: { max: opts.max ?? 32, ttlMs: opts.ttlMs ?? 10_000 },
    });
    logA = record(a);
    logB = record(b);
  };
  /** Agents built by worker `w` (the fake's config.credentials match the worker's sessions). */
  const agentsOf = (w: IceWorker) => net.agents.filter((x) => x.config.controlling === w.controlling);

  beforeEach(() => setup());
  afterEach(async () => {
    const closing = Promise.all([a.close(), b.close()]);
    await clock.advance(10_000); // slow fake closes run on the fake clock
    await closing;
  });

  const connectBoth = async () => {
    trickle(a, b);
    await offerRound(a, b);
    await clock.advance(100);
    expect(a.path).toBeDefined();
    expect(b.path).toBeDefined();
  };

  it('takes roles from the keys and makes 10-hex session ids', () => {
    expect(a.controlling).toBe(true);
    expect(b.controlling).toBe(false);
    expect(keys.high.isControllerFor(keys.low)).toBe(true);
    const offer = a.localOffer();
    expect(isSessionId(offer.sessionId)).toBe(true);
    expect(offer.ufrag).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(offer.pwd).toMatch(/^[A-Za-z0-9]{32}$/);
  });

  it('connects through an offer round and carries data both ways over the IcePath', async () => {
    await connectBoth();
    const [ca] = events(logA, 'connected') as IceConnectedInfo[];
    const [cb] = events(logB, 'connected') as IceConnectedInfo[];
    expect(ca?.pair.kind).toBe('ice-direct');
    expect(ca?.sessionId).toBe(a.sessionId);
    expect(ca?.remoteSessionId).toBe(b.sessionId);
    expect(cb?.remoteSessionId).toBe(a.sessionId);
    const got = onceEvent(cb!.path, 'data', { timeoutMs: 1000 });
    expect(ca!.path.send(Buffer.from('hi'))).toBe(true);
    expect(String((await got)[0])).toBe('hi');
    const back = onceEvent(ca!.path, 'data', { timeoutMs: 1000 });
    cb!.path.send(Buffer.from('yo'));
    expect(String((await back)[0])).toBe('yo');
    expect(events(logA, 'session-rotated')).toEqual([]);
  });

  it('soft consent: lost STUN consent ends nothing while probe answers arrive; it ends once they stop', async () => {
    await connectBoth();
    const [ca] = events(logA, 'connected') as IceConnectedInfo[];
    const agent = agentsOf(a).find((x) => x.state === 'connected')!;
    // 60 s of STUN consent loss (werift reports 'failed' each time its 30 s expiry runs out) while
    // the path answers probes every second: the session, its id and its path stay.
    for (let i = 0; i < 60; i++) {
      await clock.advance(1_000);
      ca!.path.consentEvidence();
      if (i % 30 === 29) agent.lapseStunConsent();
    }
    expect(events(logA, 'disconnected')).toEqual([]);
    expect(ca!.path.closed).toBe(false);
    expect(agent.consentAnswers).toBe(60);
    expect(ca!.path.send(Buffer.from('still'))).toBe(true);
    // The answers stop (the path itself died): consent expires one timeout after the last.
    await clock.advance(29_000);
    expect(events(logA, 'disconnected')).toEqual([]);
    await clock.advance(2_000);
    expect(events(logA, 'disconnected')).toMatchObject([{ reason: 'failed', wasConnected: true }]);
  });

  it('a STUN consent lapse with no probe answer in the timeout fails the session at once', async () => {
    await connectBoth();
    await clock.advance(30_000);
    agentsOf(a)
      .find((x) => x.state === 'connected')!
      .lapseStunConsent();
    await clock.advance(10);
    expect(events(logA, 'disconnected')).toMatchObject([{ reason: 'failed', wasConnected: true }]);
  });

  it('ignores an offer for the session it already runs (100 in 2 s: one agent, no reconnect)', async () => {
    await connectBoth();
    const before = b.sessionId;
    for (let i = 0; i < 100; i++) {
      await offerRound(a, b);
      await clock.advance(20);
    }
    expect(agentsOf(b)).toHaveLength(1);
    expect(agentsOf(a)).toHaveLength(1);
    expect(b.sessionId).toBe(before);
    expect(events(logB, 'disconnected')).toEqual([]);
    expect(events(logB, 'connected')).toHaveLength(1);
    expect(b.path?.closed).toBe(false);
  });

  it('a new remote session closes the agent, rotates ours and builds a new one', async () => {
    await connectBoth();
    const [oldA, oldB] = [a.sessionId, b.sessionId];
    const oldAgentB = agentsOf(b)[0]!;
    const oldPath = b.path!;
    a.resetSessionId();
    expect(a.sessionId).not.toBe(oldA);
    await offerRound(a, b);
    expect(oldAgentB.state).toBe('closed');
    expect(oldPath.closed).toBe(true);
    expect(b.sessionId).not.toBe(oldB);
    expect(events(logB, 'session-rotated')).toEqual([{ old: oldB, new: b.sessionId, cause: 'remote-session-changed' }]);
    expect(events(logA, 'session-rotated')).toEqual([{ old: oldA, new: a.sessionId, cause: 'reset' }]);
    expect(b.remoteSessionId).toBe(a.sessionId);
    await clock.advance(100);
    expect(agentsOf(b)).toHaveLength(2);
    expect(agentsOf(a)).toHaveLength(2);
    expect(net.live()).toHaveLength(2);
    expect(events(logB, 'connected')).toHaveLength(2);
    expect(a.remoteSessionId).toBe(b.sessionId);
  });

  it('resetSessionId() while connecting clears everything and the late success changes nothing', async () => {
    trickle(a, b);
    await offerRound(a, b);
    expect(b.connecting).toBe(true);
    const old = b.sessionId;
    b.resetSessionId();
    expect(b.sessionId).not.toBe(old);
    expect(b.connecting).toBe(false);
    expect(b.remoteSessionId).toBeUndefined();
    expect(b.localOffer().sessionId).toBe(b.sessionId);
    expect(events(logB, 'disconnected')).toEqual([{ sessionId: old, reason: 'reset', wasConnected: false }]);
    // The old agent's late events (a success, a failure, a candidate) must not resurrect anything.
    const oldAgent = agentsOf(b)[0]!;
    oldAgent.injectState('connected');
    oldAgent.injectState('failed');
    oldAgent.injectCandidate();
    await clock.advance(1000);
    expect(events(logB, 'connected')).toEqual([]);
    expect(events(logB, 'disconnected')).toHaveLength(1);
    expect(b.connecting).toBe(false);
    expect(b.sessionId).not.toBe(old);
  });

  it('resetSessionId() while the old agent is still closing, and after it closed', async () => {
    setup({ closeDelayMs: 500 });
    await connectBoth();
    const ids = [b.sessionId];
    b.resetSessionId(); // starts the (slow) close
    ids.push(b.sessionId);
    b.resetSessionId(); // while closing
    ids.push(b.sessionId);
    await clock.advance(1000);
    expect(agentsOf(b)[0]!.state).toBe('closed');
    b.resetSessionId(); // after close
    ids.push(b.sessionId);
    expect(new Set(ids).size).toBe(4);
    expect(b.localOffer().sessionId).toBe(ids[3]);
    // The next offer from b builds fresh agents on both sides.
    await offerRound(b, a);
    await clock.advance(100);
    expect(events(logA, 'connected')).toHaveLength(2);
    expect(events(logB, 'connected')).toHaveLength(2);
    expect(a.remoteSessionId).toBe(ids[3]);
  });

  it('after a failure the session ends, state clears and the id rotates', async () => {
    await connectBoth();
    const old = b.sessionId;
    agentsOf(b)[0]!.injectState('failed');
    await clock.advance(0);
    expect(events(logB, 'disconnected')).toEqual([{ sessionId: old, reason: 'failed', wasConnected: true }]);
    expect(events(logB, 'session-rotated')).toEqual([{ old, new: b.sessionId, cause: 'failed' }]);
    expect(b.path).toBeUndefined();
    expect(b.remoteSessionId).toBeUndefined();
    expect(b.connecting).toBe(false);
    b.resetSessionId();
    expect(b.sessionId).not.toBe(old);
    expect(events(logB, 'session-rotated')).toHaveLength(2);
  });

  it('late events from a replaced agent change nothing (F-ICE-2, F-ICE-4, F-ICE-5)', async () => {
    await connectBoth();
    const oldAgent = agentsOf(b)[0]!;
    a.resetSessionId();
    await offerRound(a, b);
    await clock.advance(100);
    const current = b.path!;
    const before = logB.length;
    oldAgent.injectState('closed');
    oldAgent.injectState('failed');
    oldAgent.injectState('disconnected');
    oldAgent.injectCandidate();
    const heard: Buffer[] = [];
    current.on('data', (d) => heard.push(d));
    oldAgent.injectData(Buffer.from('ghost'));
    await clock.advance(1000);
    expect(logB.slice(before)).toEqual([]);
    expect(current.closed).toBe(false);
    expect(heard).toEqual([]);
    expect(b.path).toBe(current);
  });

  it('buffers candidates that arrive before their agent and applies them when it exists', async () => {
    const offer = a.localOffer();
    await b.addRemoteCandidate({
      sessionId: offer.sessionId,
      candidate: 'candidate:1 1 udp 1 10.99.0.77 4000 typ host',
    });
    expect(b.bufferedCandidates).toBe(1);
    await b.onRemoteOffer(offer);
    expect(b.bufferedCandidates).toBe(0);
    expect(agentsOf(b)[0]!.remoteCandidates).toEqual(['candidate:1 1 udp 1 10.99.0.77 4000 typ host']);
  });

  it('drops candidates for a dead session', async () => {
    await connectBoth();
    const oldA = a.sessionId;
    expect(b.isDeadRemoteSession(oldA)).toBe(false);
    a.resetSessionId();
    await offerRound(a, b);
    expect(b.isDeadRemoteSession(oldA)).toBe(true);
    expect(b.isDeadRemoteSession(a.sessionId)).toBe(false);
    await b.addRemoteCandidate({ sessionId: oldA, candidate: 'candidate:1 1 udp 1 10.99.0.88 4000 typ host' });
    expect(b.bufferedCandidates).toBe(0);
    expect(agentsOf(b)[1]!.remoteCandidates.join()).not.toContain('10.99.0.88');
  });

  it('bounds the buffer (oldest dropped) and expires entries on the clock', async () => {
    setup({ max: 4, ttlMs: 1000 });
    const offer = a.localOffer();
    for (let i = 1; i <= 6; i++) {
      await b.addRemoteCandidate({
        sessionId: offer.sessionId,
        candidate: `candidate:1 1 udp 1 10.99.1.${i} 4000 typ host`,
      });
    }
    expect(b.bufferedCandidates).toBe(4);
    await b.onRemoteOffer(offer);
    expect(agentsOf(b)[0]!.remoteCandidates.map((c) => c.split(' ')[4])).toEqual([
      '10.99.1.3',
      '10.99.1.4',
      '10.99.1.5',
      '10.99.1.6',
    ]);
    // TTL: a candidate older than ttlMs is not applied.
    b.resetSessionId();
    const next = { ...a.localOffer(), sessionId: 'abcdef0123' };
    await b.addRemoteCandidate({ sessionId: next.sessionId, candidate: 'candidate:1 1 udp 1 10.99.2.1 4000 typ host' });
    await clock.advance(1001);
    await b.onRemoteOffer(next);
    expect(agentsOf(b)[1]!.remoteCandidates).toEqual([]);
  });

  it('offer glare: both sides offer at once and converge on one session in one round', async () => {
    trickle(a, b);
    const [offerA, offerB] = [a.localOffer(), b.localOffer()];
    const [answerB, answerA] = await Promise.all([b.onRemoteOffer(offerA), a.onRemoteOffer(offerB)]);
    await Promise.all([a.onRemoteAnswer(answerB), b.onRemoteAnswer(answerA)]);
    await clock.advance(100);
    expect(a.remoteSessionId).toBe(b.sessionId);
    expect(b.remoteSessionId).toBe(a.sessionId);
    expect(net.agents).toHaveLength(2);
    expect(events(logA, 'connected')).toHaveLength(1);
    expect(events(logB, 'connected')).toHaveLength(1);
  });

  it('glare after a reset on one side converges within two offer rounds', async () => {
    await connectBoth();
    a.resetSessionId();
    // Round 1: both offer at once (b still on its old session).
    const [offerA, offerB] = [a.localOffer(), b.localOffer()];
    const [answerB, answerA] = await Promise.all([b.onRemoteOffer(offerA), a.onRemoteOffer(offerB)]);
    await Promise.all([a.onRemoteAnswer(answerB), b.onRemoteAnswer(answerA)]);
    await clock.advance(100);
    if (!(a.path && b.path)) {
      await offerRound(a, b); // round 2
      await clock.advance(100);
    }
    expect(a.remoteSessionId).toBe(b.sessionId);
    expect(b.remoteSessionId).toBe(a.sessionId);
    expect(a.path?.closed).toBe(false);
    expect(b.path?.closed).toBe(false);
    expect(net.live()).toHaveLength(2);
    // And it stays converged: more offers from both sides change nothing.
    const agents = net.agents.length;
    await offerRound(a, b);
    await offerRound(b, a);
    await clock.advance(100);
    expect(net.agents).toHaveLength(agents);
  });

  it('ignores an answer to an older session of ours; an answer to the current one rebuilds without rotating', async () => {
    trickle(a, b);
    const staleOffer = a.localOffer();
    a.resetSessionId();
    const staleAnswer = await b.onRemoteOffer(staleOffer);
    await a.onRemoteAnswer(staleAnswer);
    expect(a.remoteSessionId).toBeUndefined();
    // b resets and answers a's current offer: a rebuilds on the same local session.
    await offerRound(a, b);
    const aId = a.sessionId;
    b.resetSessionId();
    const fresh = await b.onRemoteOffer(a.localOffer());
    await a.onRemoteAnswer(fresh);
    expect(a.sessionId).toBe(aId);
    expect(a.remoteSessionId).toBe(b.sessionId);
    expect(events(logA, 'disconnected').map((d) => (d as { reason: string }).reason)).toEqual(['replaced']);
    await clock.advance(100);
    expect(a.path).toBeDefined();
    expect(b.path).toBeDefined();
  });

  it('ends a session that does not connect by the deadline', async () => {
    net.setReachable(false);
    trickle(a, b);
    await offerRound(a, b);
    const old = b.sessionId;
    await clock.advance(5001);
    expect(events(logB, 'disconnected')).toMatchObject([{ sessionId: old, reason: 'timeout', wasConnected: false }]);
    expect(b.connecting).toBe(false);
    expect(b.sessionId).not.toBe(old);
    expect(net.live()).toHaveLength(0);
  });

  it('closing the IcePath ends the session', async () => {
    await connectBoth();
    const old = a.sessionId;
    a.path!.close();
    await clock.advance(0);
    expect(events(logA, 'disconnected')).toEqual([{ sessionId: old, reason: 'path-closed', wasConnected: true }]);
    expect(a.sessionId).not.toBe(old);
  });

  it('close() clears everything, is idempotent and emits nothing afterwards', async () => {
    await connectBoth();
    const path = b.path!;
    await b.addRemoteCandidate({ sessionId: 'ffffffffff', candidate: 'candidate:1 1 udp 1 10.9.9.9 1 typ host' });
    const agent = agentsOf(b)[0]!;
    const before = logB.length;
    await b.close();
    await b.close();
    expect(agent.state).toBe('closed');
    expect(path.closed).toBe(true);
    expect(b.connecting).toBe(false);
    expect(b.remoteSessionId).toBeUndefined();
    expect(b.bufferedCandidates).toBe(0);
    agent.injectState('failed');
    b.resetSessionId();
    await clock.advance(1000);
    expect(logB.length).toBe(before);
    expect(hasCode(await b.onRemoteOffer(a.localOffer()).catch((e) => e), 'ERR_CLOSED')).toBe(true);
    expect(() => b.localOffer()).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
  });

  it('rejects bad input with typed errors and keeps its state', async () => {
    await connectBoth();
    const state = [b.sessionId, b.remoteSessionId, b.path];
    for (const bad of [
      null,
      {},
      { sessionId: 'xyz', ufrag: 'abcd', pwd: 'a'.repeat(22) },
      { ...a.localOffer(), pwd: 'short' },
    ]) {
      expect(hasCode(await b.onRemoteOffer(bad).catch((e) => e), 'ERR_ICE_BAD_MESSAGE')).toBe(true);
      expect(hasCode(await b.onRemoteAnswer(bad).catch((e) => e), 'ERR_ICE_BAD_MESSAGE')).toBe(true);
    }
    expect(hasCode(await b.addRemoteCandidate({ sessionId: a.sessionId }).catch((e) => e), 'ERR_ICE_BAD_MESSAGE')).toBe(
      true,
    );
    expect([b.sessionId, b.remoteSessionId, b.path]).toEqual(state);
    expect(() => workerPair({ excludedAddresses: ['not-a-cidr'] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(() => workerPair({ turn: { host: 'x', port: 3478, username: '', password: '' } })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });

  it('an agent that cannot be built leaves no state behind (F-ICE-3)', async () => {
    let fail = true;
    const [x, y] = workerPair({
      clock,
      agentFactory: (config) => {
        if (fail) throw new Error('no sockets');
        return net.factory(config);
      },
    });
    const err = await y.onRemoteOffer(x.localOffer()).catch((e) => e);
    expect(hasCode(err, 'ERR_ICE_AGENT_FAILED')).toBe(true);
    expect(y.connecting).toBe(false);
    expect(y.remoteSessionId).toBeUndefined();
    fail = false;
    await y.onRemoteOffer(x.localOffer());
    expect(y.connecting).toBe(true);
    await Promise.all([x.close(), y.close()]);
  });
});
