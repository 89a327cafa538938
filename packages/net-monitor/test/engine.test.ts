import { ErrorCodes, FakeClock, hasCode } from '@mesh/core';
import { describe, expect, it } from 'vitest';
import { NetMonitorErrorCodes, NetMonitorReadError, NetMonitorUnavailableError } from '../src/errors.js';
import { addr, FakeSource, monitorWith, route } from './helpers.js';

async function started(options: { debounceMs?: number; maxDelayMs?: number } = {}) {
  const clock = new FakeClock();
  const source = new FakeSource();
  const m = monitorWith(source, { clock, ...options });
  await m.engine.start();
  return { clock, source, ...m };
}

describe('debounce', () => {
  it('a burst of 50 raw events within 1 s gives one change, 500 ms after the last event', async () => {
    const { clock, source, changes } = await started();
    for (let i = 0; i < 50; i++) {
      source.parts.addresses = [addr('192.0.2.2'), addr(`198.51.100.${i + 1}`, 'wlan0')];
      source.raw();
      await clock.advance(20);
    }
    // The last event was at 980 ms.
    await clock.advance(479);
    expect(changes).toHaveLength(0);
    await clock.advance(1);
    expect(changes).toHaveLength(1);
    expect(changes[0]!.at).toBe(1_480);
    expect(changes[0]!.change.addressesAdded).toEqual([addr('198.51.100.50', 'wlan0')]);
    expect(changes[0]!.change.addressesRemoved).toEqual([]);
    expect(source.reads).toBe(2); // the first snapshot and the one after the window
    await clock.advance(10_000);
    expect(changes).toHaveLength(1);
  });

  it('a continuous storm gives a change every maxDelayMs, never more often, never starved', async () => {
    const { clock, source, changes } = await started({ debounceMs: 500, maxDelayMs: 2_000 });
    for (let t = 0; t < 10_000; t += 100) {
      source.parts.addresses = [addr(`198.51.100.${(t / 100) % 250}`)];
      source.raw();
      await clock.advance(100);
    }
    const times = changes.map((c) => c.at);
    expect(times[0]).toBe(2_000);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(2_000);
    expect(times.length).toBe(5);
  });

  it('a flap that returns to the same state within the window emits nothing', async () => {
    const { clock, source, changes, engine } = await started();
    const before = engine.snapshot();
    source.parts.defaultRoutes = [];
    source.parts.addresses = [];
    source.raw();
    await clock.advance(200);
    source.parts = { addresses: [addr('192.0.2.2')], defaultRoutes: [route('eth0', '192.0.2.1')] };
    source.raw();
    await clock.advance(5_000);
    expect(changes).toEqual([]);
    expect(engine.snapshot()).toEqual(before);
    // A later real change is still reported.
    source.parts.addresses.push(addr('2001:db8::2'));
    source.raw();
    await clock.advance(500);
    expect(changes.map((c) => c.change.addressesAdded)).toEqual([[addr('2001:db8::2')]]);
  });

  it('raw events with no difference in the state emit nothing (link flaps, foreign routes)', async () => {
    const { clock, source, changes } = await started();
    for (let i = 0; i < 10; i++) {
      source.raw();
      await clock.advance(3_000);
    }
    expect(changes).toEqual([]);
    expect(source.reads).toBe(11);
  });
});

describe('offline and online', () => {
  it('losing the last default route is wentOffline; getting one back is cameOnline', async () => {
    const { clock, source, changes, engine } = await started();
    expect(engine.snapshot().online).toBe(true);
    source.parts.defaultRoutes = [];
    source.raw();
    await clock.advance(500);
    expect(changes.at(-1)!.change).toMatchObject({
      online: false,
      wentOffline: true,
      cameOnline: false,
      defaultRouteChanged: true,
      addressesAdded: [],
      addressesRemoved: [],
    });
    expect(engine.snapshot().online).toBe(false);

    // Wi-Fi → LTE: a new address and a new default route in one window.
    source.parts = { addresses: [addr('10.20.30.40', 'wwan0')], defaultRoutes: [route('wwan0')] };
    source.raw();
    await clock.advance(500);
    expect(changes.at(-1)!.change).toMatchObject({
      online: true,
      wentOffline: false,
      cameOnline: true,
      defaultRouteChanged: true,
      addressesAdded: [addr('10.20.30.40', 'wwan0')],
      addressesRemoved: [addr('192.0.2.2')],
    });
    expect(changes).toHaveLength(2);
  });

  it('a gateway or metric change is a defaultRouteChanged without an online transition', async () => {
    const { clock, source, changes } = await started();
    source.parts.defaultRoutes = [route('eth0', '192.0.2.254')];
    source.raw();
    await clock.advance(500);
    source.parts.defaultRoutes = [route('eth0', '192.0.2.254', 100), route('wlan0', '198.51.100.1', 50)];
    source.raw();
    await clock.advance(500);
    expect(changes.map((c) => [c.change.defaultRouteChanged, c.change.wentOffline, c.change.cameOnline])).toEqual([
      [true, false, false],
      [true, false, false],
    ]);
    expect(changes[1]!.change.snapshot.defaultRoutes.map((r) => r.dev)).toEqual(['wlan0', 'eth0']); // by metric
  });

  it('without route information (no /proc) online follows the usable addresses', async () => {
    const clock = new FakeClock();
    const source = new FakeSource({ addresses: [addr('127.0.0.1', 'lo'), addr('fe80::1')], defaultRoutes: null });
    const { engine, changes } = monitorWith(source, { clock });
    await engine.start();
    expect(engine.snapshot()).toEqual({ addresses: [], defaultRoutes: [], online: false });
    source.parts.addresses.push(addr('192.0.2.9'));
    source.raw();
    await clock.advance(500);
    expect(changes[0]!.change).toMatchObject({ cameOnline: true, addressesAdded: [addr('192.0.2.9')] });
  });

  it('ignoreInterface leaves out an interface, its addresses and its default routes', async () => {
    const clock = new FakeClock();
    const source = new FakeSource();
    const { engine, changes } = monitorWith(source, { clock, ignoreInterface: (name) => name.startsWith('wg') });
    await engine.start();
    source.parts.addresses.push(addr('100.64.0.1', 'wg0', 16));
    source.parts.defaultRoutes!.push(route('wg0'));
    source.raw();
    await clock.advance(500);
    expect(changes).toEqual([]);
  });
});

describe('lifecycle', () => {
  it('stop() is quiet: a pending window, later raw events and reads emit nothing; no timer is left', async () => {
    const { clock, source, changes, engine } = await started();
    source.parts.defaultRoutes = [];
    source.raw();
    await clock.advance(100);
    const stopping = engine.stop();
    expect(engine.stop()).toBe(stopping);
    await stopping;
    expect(source.closed).toBe(true);
    source.raw();
    await clock.advance(10_000);
    expect(changes).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
    await expect(engine.start()).rejects.toMatchObject({ code: ErrorCodes.CLOSED });
  });

  it('start() is idempotent and snapshot() before it throws ERR_NETMON_NOT_STARTED', async () => {
    const clock = new FakeClock();
    const source = new FakeSource();
    const { engine } = monitorWith(source, { clock });
    expect(() => engine.snapshot()).toThrow(expect.objectContaining({ code: NetMonitorErrorCodes.NOT_STARTED }));
    const first = engine.start();
    expect(engine.start()).toBe(first);
    await first;
    expect(source.reads).toBe(1);
    expect(engine.snapshot().addresses).toEqual([addr('192.0.2.2')]);
  });

  it('stop() while the first read is in flight (a read that ignores abort): start rejects ERR_CLOSED, nothing after', async () => {
    const clock = new FakeClock();
    const source = new FakeSource();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const read = source.read.bind(source);
    source.read = async () => {
      await gate; // like PollingSource: the read finishes whatever the signal says
      return read();
    };
    const { engine, changes } = monitorWith(source, { clock });
    const starting = engine.start();
    source.raw(); // a raw event during start: would flush after it
    await engine.stop();
    release();
    await expect(starting).rejects.toMatchObject({ code: ErrorCodes.CLOSED });
    await clock.advance(10_000);
    expect(changes).toEqual([]);
    expect(() => engine.snapshot()).toThrow(expect.objectContaining({ code: NetMonitorErrorCodes.NOT_STARTED }));
  });

  it('an aborted start rejects ERR_ABORTED and stops the monitor', async () => {
    const clock = new FakeClock();
    const source = new FakeSource();
    const { engine } = monitorWith(source, { clock });
    const ac = new AbortController();
    ac.abort();
    await expect(engine.start({ signal: ac.signal })).rejects.toMatchObject({ code: ErrorCodes.ABORTED });
    expect(source.closed).toBe(true);
  });

  it('a listener that throws does not break the monitor', async () => {
    const { clock, source, changes, emitter } = await started();
    emitter.on('change', () => {
      throw new Error('application bug');
    });
    source.parts.defaultRoutes = [];
    source.raw();
    await clock.advance(500);
    source.parts.defaultRoutes = [route('eth0', '192.0.2.1')];
    source.raw();
    await clock.advance(500);
    expect(changes.map((c) => c.change.online)).toEqual([false, true]);
  });

  it('rejects bad options', () => {
    const clock = new FakeClock();
    for (const bad of [{ debounceMs: -1 }, { debounceMs: 500, maxDelayMs: 100 }, { maxDelayMs: Number.NaN }]) {
      expect(() => monitorWith(new FakeSource(), { clock, ...bad })).toThrow(
        expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }),
      );
    }
  });
});

describe('fallback', () => {
  it('a source that cannot run falls back at once: one error event, and start() still resolves', async () => {
    const clock = new FakeClock();
    const primary = new FakeSource();
    primary.failures.push(new NetMonitorUnavailableError('no ip'));
    const fallback = new FakeSource({ addresses: [addr('192.0.2.77')], defaultRoutes: [route('eth0')] });
    const { engine, errors, changes } = monitorWith(primary, { clock, fallback: () => fallback });
    await engine.start();
    expect(errors.map((e) => e.code)).toEqual([NetMonitorErrorCodes.UNAVAILABLE]);
    expect(primary.closed).toBe(true);
    expect(engine.snapshot().addresses).toEqual([addr('192.0.2.77')]);
    // The fallback's events drive changes now; the broken source's are ignored.
    primary.parts.defaultRoutes = [];
    primary.raw();
    fallback.parts.defaultRoutes = [];
    fallback.raw();
    await clock.advance(500);
    expect(changes.map((c) => c.change.wentOffline)).toEqual([true]);
    expect(errors).toHaveLength(1);
  });

  it('without a fallback a failed read is retried (a polling source reports a change once), three times in a row at most', async () => {
    const { clock, source, changes } = await started();
    source.failures.push(new NetMonitorReadError('/proc: EIO'));
    source.parts.defaultRoutes = [];
    source.raw();
    await clock.advance(2 * 500);
    expect(changes.map((c) => c.change.wentOffline)).toEqual([true]);
    // A source that keeps failing: three reads, then quiet until the next raw event.
    source.failures.push(...Array.from({ length: 10 }, () => new NetMonitorReadError('/proc: EIO')));
    source.raw();
    const reads = source.reads;
    await clock.advance(20 * 500);
    expect(source.reads - reads).toBe(3);
  });

  it('transient read failures are retried; three in a row fall back with ERR_NETMON_FAILED', async () => {
    const { clock, source, changes, errors, engine } = await (async () => {
      const clock = new FakeClock();
      const source = new FakeSource();
      const fallback = new FakeSource({ addresses: [], defaultRoutes: [] });
      const m = monitorWith(source, { clock, fallback: () => fallback });
      await m.engine.start();
      return { clock, source, ...m };
    })();
    // Two failures, then a good read: no fallback, and the change is still reported.
    source.failures.push(new NetMonitorReadError('ip: exit code 1'), new NetMonitorReadError('ip: exit code 1'));
    source.parts.defaultRoutes = [];
    source.raw();
    await clock.advance(3 * 500);
    expect(errors).toEqual([]);
    expect(changes.map((c) => c.change.wentOffline)).toEqual([true]);
    // Three in a row: the fallback takes over.
    source.failures.push(...Array.from({ length: 3 }, () => new NetMonitorReadError('ip: timed out')));
    source.raw();
    await clock.advance(3 * 500);
    expect(errors.map((e) => e.code)).toEqual([NetMonitorErrorCodes.FAILED]);
    expect(hasCode(errors[0]!.cause, NetMonitorErrorCodes.READ)).toBe(true);
    await clock.advance(500);
    expect(engine.snapshot()).toEqual({ addresses: [], defaultRoutes: [], online: false });
  });
});
