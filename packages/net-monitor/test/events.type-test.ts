// Type-level test, run by `npm run typecheck` (not by vitest): every `@ts-expect-error` line must
// be a compile error, so a misspelled event or a wrong payload in a subscription fails the build.
import { listen, onceEvent, Subscriptions } from '@mesh/core';
import { createNetworkMonitor, LinuxNetworkMonitor, type NetworkMonitor, PollingNetworkMonitor } from '../src/index.js';

const monitor: NetworkMonitor = createNetworkMonitor();
const linux: NetworkMonitor = new LinuxNetworkMonitor({ debounceMs: 250, ignoreInterface: (n) => n === 'wg0' });
const polling: NetworkMonitor = new PollingNetworkMonitor({ intervalMs: 1_000 });
void [linux, polling];

listen(monitor, 'change', (c) => [c.addressesAdded[0]?.dev, c.addressesRemoved.length, c.snapshot.online]);
listen(
  monitor,
  'change',
  ({ wentOffline, cameOnline, defaultRouteChanged }) => wentOffline || cameOnline || defaultRouteChanged,
);
listen(monitor, 'error', (err) => err.code.length);
// @ts-expect-error: no such event
listen(monitor, 'changed', () => {});
// @ts-expect-error: 'change' carries a NetworkChange, not a string
listen(monitor, 'change', (c: string) => c);
// @ts-expect-error: a LocalAddress names its interface `dev`
listen(monitor, 'change', (c) => c.addressesAdded[0]?.interface);
// @ts-expect-error: the error is a NetMonitorError, not a number
listen(monitor, 'error', (err: number) => err);

monitor.on('change', (c) => c.snapshot.defaultRoutes.map((r) => r.gateway ?? r.dev));
// @ts-expect-error: a direct subscription is checked as well
monitor.on('chnage', () => {});

new Subscriptions().on(monitor, 'change', (c) => c.online);
// @ts-expect-error: and so is a Subscriptions entry
new Subscriptions().on(monitor, 'offline', () => {});

void onceEvent(monitor, 'change', { filter: (c) => c.cameOnline });
// @ts-expect-error: the filter gets the NetworkChange
void onceEvent(monitor, 'change', { filter: (c: number) => c > 0 });
// @ts-expect-error: start takes an options object with a signal, not a number
void monitor.start(500);
