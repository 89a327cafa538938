import { afterEach, describe, expect, it } from 'vitest';
import { makePair, type Pair } from './harness.js';

let pair: Pair | undefined;
afterEach(async () => {
  await pair?.teardown();
  pair = undefined;
});

describe('PeerConn: coming up', () => {
  it('prefers ICE, keeps the relay as a warm standby, and carries WireGuard traffic', async () => {
    pair = await makePair();
    const { a, b, until, start, tunnelWorks } = pair;
    await start();
    await until(() => a.conn.activePath === 'ice-direct' && b.conn.activePath === 'ice-direct', 10_000);
    await until(
      () => a.wg.dataReceived >= 0 && a.conn.counters.relayOpens > 0 && b.conn.counters.relayOpens > 0,
      10_000,
    );
    expect(await tunnelWorks()).toBe(true);
    const sa = await a.conn.status();
    expect(sa.active).toBe('ice-direct');
    expect(sa.standby).toEqual(['relay']);
    expect(sa.controller).toBe(true);
    expect(sa.lastHandshakeAt).toBeGreaterThan(0);
    expect(a.conn.counters.relayTeardowns).toBe(0);
  });

  it('comes up on the relay alone when one side has no ICE', async () => {
    pair = await makePair({ b: { ice: false } });
    const { a, b, until, start, tunnelWorks } = pair;
    await start();
    await until(() => a.conn.activePath === 'relay' && b.conn.activePath === 'relay', 10_000);
    expect(await tunnelWorks()).toBe(true);
  });

  it('is silent in steady state: no offers once both paths are up', async () => {
    pair = await makePair();
    const { a, b, until, run, start } = pair;
    await start();
    await until(() => a.conn.activePath === 'ice-direct' && b.conn.activePath === 'ice-direct', 10_000);
    await run(5_000);
    const sent = a.conn.counters.offersSent + b.conn.counters.offersSent;
    await run(120_000, 200);
    expect(a.conn.counters.offersSent + b.conn.counters.offersSent).toBe(sent);
    expect(a.conn.counters.relayTeardowns + b.conn.counters.relayTeardowns).toBe(0);
  });
});
