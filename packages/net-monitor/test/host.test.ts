import { FakeClock, onceEvent } from '@mesh/core';
import { describe, expect, it } from 'vitest';
import { NetMonitorErrorCodes } from '../src/errors.js';
import { createNetworkMonitor, LinuxNetworkMonitor, PollingNetworkMonitor } from '../src/index.js';
import { resolveIp } from '../src/ip-process.js';

// The real readers on this host (no change is made to its network): both implementations must
// see the same state, and a missing `ip` must degrade to polling.
const haveIp = process.platform === 'linux' && resolveIp('ip') !== undefined;

describe('on this host', () => {
  it.skipIf(!haveIp)(
    'LinuxNetworkMonitor (ip -json) and PollingNetworkMonitor (/proc) read the same state',
    async () => {
      const clock = new FakeClock();
      const linux = new LinuxNetworkMonitor({ clock });
      const polling = new PollingNetworkMonitor({ clock });
      const errors: unknown[] = [];
      linux.on('error', (e) => errors.push(e));
      try {
        await Promise.all([linux.start(), polling.start()]);
        expect(errors).toEqual([]);
        expect(linux.snapshot().addresses).toEqual(polling.snapshot().addresses);
        // `ip` names a route's preferred source, /proc does not; the rest must match.
        const routes = (m: LinuxNetworkMonitor | PollingNetworkMonitor) =>
          m.snapshot().defaultRoutes.map(({ src: _, ...r }) => r);
        expect(routes(linux)).toEqual(routes(polling));
        expect(linux.snapshot().online).toBe(polling.snapshot().online);
      } finally {
        await Promise.all([linux.stop(), polling.stop()]);
      }
    },
  );

  it('a LinuxNetworkMonitor without ip falls back to polling with one ERR_NETMON_UNAVAILABLE', async () => {
    const monitor = new LinuxNetworkMonitor({ clock: new FakeClock(), ipPath: '/nonexistent/ip' });
    const error = onceEvent(monitor, 'error', { timeoutMs: 5_000 });
    await monitor.start();
    const [err] = await error;
    expect(err.code).toBe(NetMonitorErrorCodes.UNAVAILABLE);
    expect(Array.isArray(monitor.snapshot().addresses)).toBe(true);
    await monitor.stop();
  });

  it('createNetworkMonitor picks the Linux monitor when ip is there, polling otherwise', async () => {
    expect(createNetworkMonitor({ ipPath: '/nonexistent/ip' })).toBeInstanceOf(PollingNetworkMonitor);
    expect(createNetworkMonitor()).toBeInstanceOf(haveIp ? LinuxNetworkMonitor : PollingNetworkMonitor);
  });
});
