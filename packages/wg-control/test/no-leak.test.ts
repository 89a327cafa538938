import { type Clock, MemoryPath, systemClock, type Timer } from '@mesh/core';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, HandshakeWatcher, PeerEndpoint, type WgPeerState } from '../src/index.js';
import { WgSocketStub } from './helpers.js';

const summary = () => {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
};

/**
 * The system clock, counting live timers. (SystemClock's timers are unref'd, so
 * getActiveResourcesInfo() does not list them: this is how a leaked timer shows.)
 */
class CountingClock implements Clock {
  live = 0;
  now = () => systemClock.now();
  monotonic = () => systemClock.monotonic();
  sleep = (ms: number, o?: { signal?: AbortSignal }) => systemClock.sleep(ms, o);
  setTimeout(fn: () => void, ms: number): Timer {
    this.live++;
    let done = false;
    const end = () => {
      if (!done) this.live--;
      done = true;
    };
    const t = systemClock.setTimeout(() => {
      end();
      fn();
    }, ms);
    return {
      cancel: () => {
        end();
        t.cancel();
      },
    };
  }
  setInterval(fn: () => void, ms: number): Timer {
    this.live++;
    let done = false;
    const t = systemClock.setInterval(fn, ms);
    return {
      cancel: () => {
        if (!done) this.live--;
        done = true;
        t.cancel();
      },
    };
  }
}

describe('no leaked handles', () => {
  it('500 PeerEndpoints and 500 HandshakeWatchers opened and closed leave active resources at the baseline', async () => {
    const wg = await WgSocketStub.open();
    const clock = new CountingClock();
    const device = { name: 'wgleak', getPeer: async (): Promise<WgPeerState | null> => null };
    const baseline = summary();
    const endpoints: PeerEndpoint[] = [];
    const watchers: HandshakeWatcher[] = [];
    for (let i = 0; i < 500; i++) {
      const ep = new PeerEndpoint({ wireguardPort: wg.port, clock });
      await ep.start();
      const [a] = MemoryPath.pair();
      ep.attach(a);
      ep.setActive(a);
      endpoints.push(ep);
      const w = new HandshakeWatcher({ device, peer: generateKeyPair().publicKey, clock });
      await w.start();
      watchers.push(w);
    }
    expect(summary().UDPWrap ?? 0).toBe((baseline.UDPWrap ?? 0) + 500);
    expect(clock.live).toBe(500 * 2 + 500); // per endpoint: probe + verdict intervals; per watcher: next check
    for (const ep of endpoints) ep.stop();
    for (const w of watchers) w.stop();
    expect(clock.live).toBe(0);
    // Socket handles are released on the next turns of the event loop.
    await expect.poll(() => summary(), { timeout: 5000, interval: 20 }).toEqual(baseline);
    wg.close();
  });
});
