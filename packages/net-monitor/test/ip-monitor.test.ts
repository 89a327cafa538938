import { FakeClock, silentLogger } from '@mesh/core';
import { describe, expect, it } from 'vitest';
import { RESTART } from '../src/constants.js';
import { NetMonitorErrorCodes } from '../src/errors.js';
import { IpMonitorSource } from '../src/linux.js';
import { addr, FakeIp, FakeSource, monitorWith, route } from './helpers.js';

/** Runs timers until `ip` has started monitor number `n` (fails rather than spin when nothing is due). */
async function untilMonitors(clock: FakeClock, ip: FakeIp, n: number): Promise<void> {
  await clock.advance(0); // the exit is reported on a later turn
  while (ip.monitors.length < n) expect(await clock.runNext(), `monitor ${n} never started`).toBe(true);
}

/** The Linux monitor's wiring with a fake `ip` and a fake polling fallback. */
async function linux() {
  const clock = new FakeClock();
  const ip = new FakeIp(clock);
  const fallback = new FakeSource({ addresses: [addr('192.0.2.50')], defaultRoutes: [route('eth0', '192.0.2.1')] });
  // random() = 0.5 is a jitter factor of exactly 1: the ladder's delays are 500, 1000, 2000, …
  const source = new IpMonitorSource({ ipPath: 'ip', clock, logger: silentLogger, spawn: ip.spawn, random: () => 0.5 });
  const m = monitorWith(source, { clock, fallback: () => fallback });
  await m.engine.start();
  return { clock, ip, fallback, ...m };
}

describe('LinuxNetworkMonitor with a fake ip', () => {
  it('a line from ip monitor triggers a snapshot with ip -json; the change is debounced', async () => {
    const { clock, ip, changes, engine } = await linux();
    expect(ip.monitors).toHaveLength(1);
    expect(engine.snapshot().addresses).toEqual([addr('192.0.2.2')]);
    ip.state.addresses.push(addr('2001:db8::5', 'wlan0'));
    ip.state.routes = [route('wlan0', 'fe80::1')];
    for (let i = 0; i < 5; i++) ip.monitor!.stdout.write('3: wlan0    inet6 2001:db8::5/64 scope global\n');
    await clock.advance(500);
    expect(changes).toHaveLength(1);
    expect(changes[0]!.change).toMatchObject({
      addressesAdded: [addr('2001:db8::5', 'wlan0')],
      defaultRouteChanged: true,
      online: true,
    });
    expect(ip.snapshots).toBe(6); // two snapshots of three commands each
  });

  it('a crashing ip monitor is restarted on a bounded ladder, then given up for polling (one error)', async () => {
    const { clock, ip, errors, fallback, changes } = await linux();
    const delays: number[] = [];
    for (let crash = 1; crash <= RESTART.maxRestarts; crash++) {
      const crashedAt = clock.monotonic();
      ip.monitor!.exit(1);
      await untilMonitors(clock, ip, crash + 1);
      delays.push(ip.monitors.at(-1)!.at - crashedAt);
    }
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 8_000]);
    expect(errors).toEqual([]);
    // One more exit in a row: no restart, one error, the polling fallback takes over.
    ip.monitor!.stderr.write('Cannot bind netlink socket\n');
    ip.monitor!.exit(2);
    await clock.advance(60_000);
    expect(ip.monitors).toHaveLength(RESTART.maxRestarts + 1);
    expect(errors.map((e) => e.code)).toEqual([NetMonitorErrorCodes.FAILED]);
    expect(errors[0]!.message).toContain('Cannot bind netlink socket');
    expect(changes.at(-1)!.change.addressesAdded).toEqual([addr('192.0.2.50')]); // read through the fallback
    fallback.parts.defaultRoutes = [];
    fallback.raw();
    await clock.advance(500);
    expect(changes.at(-1)!.change.wentOffline).toBe(true);
  });

  it('a monitor that ran for a while before it exited starts the ladder over', async () => {
    const { clock, ip, errors } = await linux();
    for (let crash = 1; crash <= 3; crash++) {
      ip.monitor!.exit(1);
      await untilMonitors(clock, ip, crash + 1);
    }
    await clock.advance(RESTART.stableMs);
    const crashedAt = clock.monotonic();
    ip.monitor!.exit(null, 'SIGKILL');
    await untilMonitors(clock, ip, 5);
    expect(ip.monitors.at(-1)!.at - crashedAt).toBe(RESTART.initialMs);
    expect(errors).toEqual([]);
  });

  it('a restart takes a fresh snapshot: what changed while nothing watched is reported', async () => {
    const { clock, ip, changes } = await linux();
    ip.monitor!.exit(1);
    ip.state.routes = [];
    await clock.advance(RESTART.initialMs + 500);
    expect(ip.monitors).toHaveLength(2);
    expect(changes.map((c) => c.change.wentOffline)).toEqual([true]);
  });

  it('no ip at all: start() resolves through polling with one ERR_NETMON_UNAVAILABLE', async () => {
    const clock = new FakeClock();
    const ip = new FakeIp(clock);
    ip.spawnError = Object.assign(new Error('spawn ip ENOENT'), { code: 'ENOENT' });
    const fallback = new FakeSource();
    const source = new IpMonitorSource({ ipPath: 'ip', clock, logger: silentLogger, spawn: ip.spawn });
    const { engine, errors } = monitorWith(source, { clock, fallback: () => fallback });
    await engine.start();
    await clock.advance(60_000);
    expect(errors.map((e) => e.code)).toEqual([NetMonitorErrorCodes.UNAVAILABLE]);
    expect(engine.snapshot().online).toBe(true);
    expect(fallback.reads).toBeGreaterThanOrEqual(1);
  });

  it('stop() ends ip monitor with SIGTERM, leaves no timer and emits nothing afterwards', async () => {
    const { clock, ip, changes, engine } = await linux();
    const child = ip.monitor!;
    ip.state.routes = [];
    child.stdout.write('Deleted default via 192.0.2.1 dev eth0\n');
    await engine.stop();
    expect(child.signals).toEqual(['SIGTERM']);
    await clock.advance(60_000);
    expect(changes).toEqual([]);
    expect(ip.monitors).toHaveLength(1);
    expect(clock.pendingTimers()).toBe(0);
  });
});
