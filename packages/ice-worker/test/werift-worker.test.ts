import dgram from 'node:dgram';
import net from 'node:net';
import { onceEvent, silentLogger, systemClock } from '@mesh/core';
import { describeDatagramPathContract } from '@mesh/core/testing/contract';
import {
  AddressFilter,
  type IceAgent,
  type IceAgentConfig,
  type IceWorker,
  newLocalSession,
  weriftAgentFactory,
} from '@mesh/ice-worker';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loopbackAgentConfig } from './helpers/werift.js';
import { offerRound, trickle, workerPair } from './helpers/workers.js';

/** Two workers over real werift on loopback; every agent they build is recorded. */
function loopbackWorkers() {
  const agents: IceAgent[] = [];
  const agentFactory = (config: IceAgentConfig) => {
    const agent = weriftAgentFactory(config);
    agents.push(agent);
    return agent;
  };
  const [a, b] = workerPair({
    ...loopbackAgentConfig,
    hostAddresses: ['127.0.0.1'],
    agentFactory,
    connectTimeoutMs: 10_000,
  });
  trickle(a, b);
  return { a, b, agents };
}

const connected = (w: IceWorker) => onceEvent(w, 'connected', { timeoutMs: 10_000 });

describe('IceWorker over real werift (loopback)', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(cleanup.splice(0).map((f) => f()));
    vi.restoreAllMocks();
  });

  it('connects two workers, carries data both ways, and reconnects after resetSessionId() + offer', async () => {
    const { a, b, agents } = loopbackWorkers();
    cleanup.push(async () => {
      await Promise.all([a.close(), b.close()]);
    });
    const up = Promise.all([connected(a), connected(b)]);
    await offerRound(a, b);
    const [[ca], [cb]] = await up;
    expect(ca.pair.kind).toBe('ice-direct');
    expect(ca.pair.local).toMatchObject({ type: 'host', address: '127.0.0.1' });
    expect(ca.pair.remote.address).toBe('127.0.0.1');
    expect(ca.pair.rttMs).toBeGreaterThanOrEqual(0);
    const atB = onceEvent(cb.path, 'data', { timeoutMs: 5000 });
    ca.path.send(Buffer.from('from a'));
    expect(String((await atB)[0])).toBe('from a');
    const atA = onceEvent(ca.path, 'data', { timeoutMs: 5000 });
    cb.path.send(Buffer.from('from b'));
    expect(String((await atA)[0])).toBe('from b');
    expect(agents).toHaveLength(2);

    // resetSessionId() on a, then an offer from a: both sides build new agents and connect again.
    const rotatedA = onceEvent(a, 'session-rotated', { timeoutMs: 5000 });
    const rotatedB = onceEvent(b, 'session-rotated', { timeoutMs: 5000 });
    const again = Promise.all([connected(a), connected(b)]);
    a.resetSessionId();
    expect((await rotatedA)[0].cause).toBe('reset');
    expect(ca.path.closed).toBe(true);
    await offerRound(a, b);
    expect((await rotatedB)[0].cause).toBe('remote-session-changed');
    const [[ca2], [cb2]] = await again;
    expect(ca2.sessionId).toBe(a.sessionId);
    expect(cb2.remoteSessionId).toBe(a.sessionId);
    expect(cb.path.closed).toBe(true);
    expect(agents).toHaveLength(4);
    expect(agents.slice(0, 2).map((x) => x.state)).toEqual(['closed', 'closed']);
    const atB2 = onceEvent(cb2.path, 'data', { timeoutMs: 5000 });
    ca2.path.send(Buffer.from('again'));
    expect(String((await atB2)[0])).toBe('again');
  });

  it('binds its sockets inside the configured port range', async () => {
    const base = 42_000 + Math.floor(Math.random() * 1000) * 10;
    const range: [number, number] = [base, base + 9];
    const [a, b] = workerPair({ ...loopbackAgentConfig, hostAddresses: ['127.0.0.1'], portRange: range });
    cleanup.push(async () => {
      await Promise.all([a.close(), b.close()]);
    });
    trickle(a, b);
    const up = Promise.all([connected(a), connected(b)]);
    await offerRound(a, b);
    const [[ca], [cb]] = await up;
    for (const port of [ca.pair.local.port, cb.pair.local.port]) {
      expect(port).toBeGreaterThanOrEqual(range[0]);
      expect(port).toBeLessThanOrEqual(range[1]);
    }
  });

  it('contacts nothing but the configured servers (never werift’s default STUN)', async () => {
    const sent: string[] = [];
    const origSend = dgram.Socket.prototype.send;
    vi.spyOn(dgram.Socket.prototype, 'send').mockImplementation(function (this: dgram.Socket, ...args: unknown[]) {
      // send(msg, [offset, length,] port, address, cb)
      const port = args.find((x) => typeof x === 'number' && x > 0 && x !== (args[0] as Buffer).length);
      const host = args.find((x) => typeof x === 'string');
      sent.push(`${host}:${port}`);
      return (origSend as (...a: unknown[]) => void).apply(this, args);
    });
    const connects = vi.spyOn(net.Socket.prototype, 'connect');
    const stun = dgram.createSocket('udp4');
    await new Promise<void>((r) => stun.bind(0, '127.0.0.1', r));
    const stunPort = stun.address().port;
    cleanup.push(async () => {
      stun.close();
    });
    const gatherAlone = async (config: Partial<IceAgentConfig>) => {
      const agent = weriftAgentFactory({
        controlling: true,
        credentials: newLocalSession(),
        excluded: new AddressFilter([]),
        clock: systemClock,
        logger: silentLogger,
        stunTimeoutMs: 300,
        ...config,
      });
      try {
        await agent.gather();
      } finally {
        await agent.close();
      }
    };
    // Interface discovery on, no STUN configured: gathering sends nothing at all.
    await gatherAlone({});
    expect(sent).toEqual([]);
    // A configured STUN server is the only destination.
    await gatherAlone({
      stun: { host: '127.0.0.1', port: stunPort },
      hostAddresses: ['127.0.0.1'],
      discoverHostAddresses: false,
    });
    expect(sent.length).toBeGreaterThan(0);
    expect(new Set(sent)).toEqual(new Set([`127.0.0.1:${stunPort}`]));
    expect(connects).not.toHaveBeenCalled();
  });
});

describeDatagramPathContract('IcePath (werift loopback)', async () => {
  const { a, b } = loopbackWorkers();
  const up = Promise.all([connected(a), connected(b)]);
  await offerRound(a, b);
  const [[ca], [cb]] = await up;
  return {
    a: ca.path,
    b: cb.path,
    teardown: async () => {
      await Promise.all([a.close(), b.close()]);
    },
  };
});
