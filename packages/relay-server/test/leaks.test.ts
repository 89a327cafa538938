import { FakeClock } from '@mesh/core';
import { describe, expect, it } from 'vitest';
import { connectClient, randomKey, startServer } from './helpers.js';

// SystemClock timers are unref'd and invisible to getActiveResourcesInfo, so every timer here runs
// on one FakeClock (server and clients) whose pending timers are counted as well. Immediates run on
// the next turn by nature (one may be queued when a snapshot is taken), so they are not counted.
const resources = () =>
  process
    .getActiveResourcesInfo()
    .filter((r) => r !== 'Immediate')
    .sort()
    .join(',');

describe('no leaks', () => {
  it('1,000 open/close cycles of RelayConn return active resources and timers to the baseline', async () => {
    const clock = new FakeClock();
    const server = await startServer({ clock });
    const [ca, cb] = await Promise.all([
      connectClient(server, randomKey(), { clock }),
      connectClient(server, randomKey(), { clock }),
    ]);
    (await ca.openConn(cb.localKey)).close();
    const baseline = resources();
    const timers = clock.pendingTimers();
    for (let i = 0; i < 1000; i++) {
      const conn = await ca.openConn(cb.localKey);
      conn.send(Buffer.from('x'));
      conn.close();
    }
    expect(ca.connCount).toBe(0);
    expect(clock.pendingTimers()).toBe(timers);
    await expect.poll(resources, { timeout: 5000 }).toBe(baseline);
  }, 60_000);

  it('100 connect/openConn/close cycles of RelayClient return active resources and timers to the baseline', async () => {
    const clock = new FakeClock();
    const server = await startServer({ clock });
    const peer = await connectClient(server, randomKey(), { clock });
    const warm = await connectClient(server, randomKey(), { clock });
    warm.close();
    await expect.poll(() => server.peers().length, { timeout: 5000 }).toBe(1);
    const baseline = resources();
    const timers = clock.pendingTimers();
    const key = randomKey();
    for (let i = 0; i < 100; i++) {
      const c = await connectClient(server, key, { clock });
      const conn = await c.openConn(peer.localKey);
      conn.send(Buffer.from('x'));
      c.close();
    }
    await expect.poll(() => server.peers().length, { timeout: 5000 }).toBe(1);
    await expect.poll(() => clock.pendingTimers(), { timeout: 5000 }).toBe(timers);
    await expect.poll(resources, { timeout: 5000 }).toBe(baseline);
  }, 60_000);
});
