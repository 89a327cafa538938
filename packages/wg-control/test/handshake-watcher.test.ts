import { FakeClock, PeerKey } from '@mesh/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  generateKeyPair,
  type HandshakeInfo,
  type HandshakeTimeoutInfo,
  HandshakeWatcher,
  type HandshakeWatcherOptions,
  type WgPeerState,
} from '../src/index.js';

/** Just enough of a WgDevice for the watcher: per-peer handshake times, failures, held reads. */
class FakeDevice {
  readonly name: string;
  readonly handshakes = new Map<string, number>();
  readonly log: string[] = [];
  fail: Error | null = null;
  hold = false;
  readonly held: Array<() => void> = [];
  reads = 0;

  constructor(name = 'wgtest') {
    this.name = name;
  }

  async getPeer(key: PeerKey | string): Promise<WgPeerState | null> {
    this.reads++;
    this.log.push('read');
    if (this.hold) await new Promise<void>((r) => this.held.push(r));
    if (this.fail) throw this.fail;
    const k = PeerKey.from(key);
    const hs = this.handshakes.get(k.base64);
    if (hs === undefined) return null;
    return {
      publicKey: k,
      endpoint: null,
      allowedIps: [],
      lastHandshakeAt: hs,
      rxBytes: 0,
      txBytes: 0,
      persistentKeepalive: 25,
      presharedKey: false,
    };
  }

  configure(key: PeerKey): void {
    this.log.push('configure');
    if (!this.handshakes.has(key.base64)) this.handshakes.set(key.base64, 0);
  }
}

const watchers: HandshakeWatcher[] = [];
afterEach(() => {
  for (const w of watchers.splice(0)) w.stop();
});

function setup(overrides: Partial<HandshakeWatcherOptions> = {}) {
  const clock = new FakeClock();
  const device = new FakeDevice();
  const peer = generateKeyPair().publicKey;
  const w = new HandshakeWatcher({ device, peer, clock, ...overrides });
  watchers.push(w);
  const hs: HandshakeInfo[] = [];
  const timeouts: HandshakeTimeoutInfo[] = [];
  const firedAt: number[] = [];
  w.on('handshake', (i) => hs.push(i));
  w.on('handshake-timeout', (i) => {
    timeouts.push(i);
    firedAt.push(clock.monotonic());
  });
  const handshakeNow = () => device.handshakes.set(peer.base64, clock.now());
  return { clock, device, peer, w, hs, timeouts, firedAt, handshakeNow };
}

describe('HandshakeWatcher', () => {
  it('no-first-handshake: fires exactly when the first-handshake window ends', async () => {
    const { clock, device, peer, w, timeouts, firedAt } = setup();
    await w.start();
    device.configure(peer);
    await clock.advance(29_999);
    expect(timeouts).toEqual([]);
    await clock.advance(1);
    expect(timeouts).toMatchObject([{ reason: 'no-first-handshake', lastHandshakeAt: 0, baseline: 0 }]);
    expect(firedAt).toEqual([30_000]);
  });

  it('no-first-handshake also when the peer never appears on the device', async () => {
    const { clock, w, timeouts } = setup({ firstHandshakeTimeoutMs: 10_000 });
    await w.start();
    await clock.advance(10_000);
    expect(timeouts[0]).toMatchObject({ reason: 'no-first-handshake' });
    expect(timeouts[0]!.detail).toContain('not on the device');
  });

  it('handshake then stale: a tunnel rekeying every 2 min lives; 3 min 30 s without a handshake is dead', async () => {
    const { clock, device, peer, w, hs, timeouts, firedAt, handshakeNow } = setup();
    await w.start();
    device.configure(peer);
    await clock.advance(2_000);
    handshakeNow();
    await clock.advance(3_000);
    expect(hs).toMatchObject([{ first: true, lastHandshakeAt: clock.now() - 3_000 }]);
    for (let i = 0; i < 5; i++) {
      await clock.advance(120_000);
      handshakeNow();
    }
    await clock.advance(5_000);
    expect(hs).toHaveLength(6);
    expect(hs.slice(1).every((h) => !h.first)).toBe(true);
    expect(timeouts).toEqual([]);
    const last = clock.monotonic() - 5_000;
    await clock.advance(210_000);
    expect(timeouts).toMatchObject([{ reason: 'stale' }]);
    expect(firedAt[0]).toBe(last + 210_000);
  });

  it('clock-jump: wall time moving against monotonic time fires', async () => {
    const { clock, device, peer, w, timeouts, handshakeNow } = setup();
    await w.start();
    device.configure(peer);
    handshakeNow();
    await clock.advance(5_000);
    clock.jump(60_000); // suspend/resume: wall moved 60 s, monotonic did not
    await clock.advance(5_000);
    expect(timeouts).toMatchObject([{ reason: 'clock-jump' }]);
    expect(timeouts[0]!.detail).toContain('60000');
  });

  it('clock-jump: a handshake time in the future fires; a small NTP step does not', async () => {
    const { clock, device, peer, w, timeouts } = setup();
    await w.start();
    device.configure(peer);
    clock.jump(2_000); // within the 5 s tolerance
    await clock.advance(5_000);
    expect(timeouts).toEqual([]);
    device.handshakes.set(peer.base64, clock.now() + 60_000);
    await clock.advance(5_000);
    expect(timeouts).toMatchObject([{ reason: 'clock-jump' }]);
    expect(timeouts[0]!.detail).toContain('future');
  });

  it('read-error: a failing device and a removed peer both fire', async () => {
    const a = setup();
    await a.w.start();
    a.device.fail = new Error('socket gone');
    await a.clock.advance(5_000);
    expect(a.timeouts).toMatchObject([{ reason: 'read-error' }]);
    expect(a.timeouts[0]!.error?.message).toBe('socket gone');

    const b = setup();
    await b.w.start();
    b.device.configure(b.peer);
    b.handshakeNow();
    await b.clock.advance(5_000);
    b.device.handshakes.delete(b.peer.base64);
    await b.clock.advance(5_000);
    expect(b.timeouts).toMatchObject([{ reason: 'read-error' }]);
    expect(b.timeouts[0]!.detail).toContain('removed');
  });

  it('a failed baseline read does not throw; the next check reports the failure', async () => {
    const { clock, device, w, timeouts } = setup();
    device.fail = new Error('boom');
    await w.start();
    expect(w.state).toBe('watching');
    await clock.advance(5_000);
    expect(timeouts).toMatchObject([{ reason: 'read-error' }]);
  });

  it('fires once, then stays quiet with no timer left until reset()', async () => {
    const { clock, device, peer, w, hs, timeouts, handshakeNow } = setup();
    await w.start();
    await clock.advance(30_000);
    expect(timeouts).toHaveLength(1);
    expect(w.state).toBe('fired');
    expect(clock.pendingTimers()).toBe(0);
    await clock.advance(600_000);
    expect(timeouts).toHaveLength(1);
    // reset(): new baseline (the handshake already there does not count), new window.
    device.configure(peer);
    handshakeNow();
    await w.reset();
    await clock.advance(10_000);
    expect(hs).toEqual([]);
    handshakeNow();
    await clock.advance(5_000);
    expect(hs).toMatchObject([{ first: true }]);
    expect(timeouts).toHaveLength(1);
  });

  it('reset() re-arms a running watcher with a fresh first-handshake window', async () => {
    const { clock, w, timeouts, firedAt } = setup();
    await w.start();
    await clock.advance(20_000);
    await w.reset();
    await clock.advance(20_000);
    expect(timeouts).toEqual([]);
    await clock.advance(10_000);
    expect(firedAt).toEqual([50_000]);
  });

  it('emits nothing after stop(), and a listener may stop it mid-check', async () => {
    const { clock, device, peer, w, timeouts, handshakeNow } = setup();
    await w.start();
    device.configure(peer);
    handshakeNow();
    w.on('handshake', () => w.stop());
    await clock.advance(600_000);
    expect(timeouts).toEqual([]);
    expect(w.state).toBe('stopped');
    expect(clock.pendingTimers()).toBe(0);
    w.stop(); // idempotent
  });

  describe('NetBird watcher bugs', () => {
    it('#5213: the baseline is read before the path is configured, so the setup handshake counts', async () => {
      const { clock, device, peer, w, hs, timeouts, handshakeNow } = setup();
      await w.start(); // resolves only after the baseline read
      device.configure(peer);
      handshakeNow(); // the handshake the configuration triggers, same millisecond
      await clock.advance(5_000);
      expect(device.log.slice(0, 2)).toEqual(['read', 'configure']);
      expect(hs).toMatchObject([{ first: true }]);
      await clock.advance(60_000);
      expect(timeouts).toEqual([]);

      // The NetBird bug for contrast: started after the configuration, the setup handshake becomes
      // the baseline and a healthy tunnel is reported dead 30 s later.
      const late = setup();
      late.device.configure(late.peer);
      late.handshakeNow();
      await late.w.start();
      await late.clock.advance(30_000);
      expect(late.timeouts).toMatchObject([{ reason: 'no-first-handshake' }]);
    });

    it('#6664: a fast stop + start always leaves a running watcher, and the old one never fires into the new connection', async () => {
      const { clock, device, peer, w, timeouts } = setup({ firstHandshakeTimeoutMs: 10_000 });
      await w.start();
      await clock.advance(5_000); // one check done
      device.hold = true; // the next check's read hangs…
      await clock.advance(5_000);
      expect(device.held).toHaveLength(1);
      w.stop(); // …and the connection is torn down while it is in flight
      const fresh = new HandshakeWatcher({ device, peer, clock, firstHandshakeTimeoutMs: 10_000 });
      watchers.push(fresh);
      const freshTimeouts: HandshakeTimeoutInfo[] = [];
      fresh.on('handshake-timeout', (i) => freshTimeouts.push(i));
      device.hold = false;
      await fresh.start();
      expect(fresh.state).toBe('watching');
      device.held.shift()!(); // the old read completes late, with a verdict that would be "timeout"
      await clock.advance(9_000);
      expect(timeouts).toEqual([]);
      expect(freshTimeouts).toEqual([]);
      await clock.advance(1_000);
      expect(freshTimeouts).toMatchObject([{ reason: 'no-first-handshake' }]);
      expect(timeouts).toEqual([]);
    });

    it('#6664: starting a second watcher for the same peer supersedes the first; one live watcher per peer', async () => {
      const { clock, device, peer, w, timeouts } = setup();
      await w.start();
      expect(HandshakeWatcher.current(device.name, peer)).toBe(w);
      const second = new HandshakeWatcher({ device, peer, clock });
      watchers.push(second);
      await second.start();
      expect(w.state).toBe('stopped');
      expect(HandshakeWatcher.current(device.name, peer.base64)).toBe(second);
      const other = new HandshakeWatcher({ device, peer: generateKeyPair().publicKey, clock });
      watchers.push(other);
      await other.start();
      expect(second.state).toBe('watching'); // other peers are independent
      await clock.advance(30_000);
      expect(timeouts).toEqual([]);
    });

    it('#7091: a stopped watcher is re-armed by the next start() (lazy wake), never left dead', async () => {
      const { clock, device, peer, w, hs, timeouts, handshakeNow } = setup();
      await w.start();
      w.stop(); // lazy idle: Close
      expect(HandshakeWatcher.current(device.name, peer)).toBeUndefined();
      await expect(w.reset()).rejects.toMatchObject({ code: 'ERR_CLOSED' }); // no silent no-op
      await clock.advance(60_000);
      expect(timeouts).toEqual([]);
      await w.start(); // wake: Open
      expect(w.state).toBe('watching');
      expect(HandshakeWatcher.current(device.name, peer)).toBe(w);
      device.configure(peer);
      handshakeNow();
      await clock.advance(5_000);
      expect(hs).toMatchObject([{ first: true }]);
      await clock.advance(210_000);
      expect(timeouts).toMatchObject([{ reason: 'stale' }]); // it is really watching
    });

    it('F-WG-1: a watcher that fired is re-armed by start(), not skipped', async () => {
      const { clock, w, timeouts } = setup();
      await w.start();
      await clock.advance(30_000);
      expect(w.state).toBe('fired');
      await w.start();
      expect(w.state).toBe('watching');
      await clock.advance(30_000);
      expect(timeouts).toHaveLength(2);
    });
  });

  it('watchers armed at different moments read the device together, on a grid of checkIntervalMs', async () => {
    const clock = new FakeClock();
    const device = new FakeDevice();
    const readAt: number[] = [];
    const read = device.getPeer.bind(device);
    device.getPeer = (key) => {
      readAt.push(clock.monotonic());
      return read(key);
    };
    for (const at of [0, 1_234, 3_777]) {
      await clock.advance(at - clock.monotonic());
      const w = new HandshakeWatcher({
        device,
        peer: generateKeyPair().publicKey,
        clock,
        firstHandshakeTimeoutMs: 60_000,
      });
      watchers.push(w);
      await w.start(); // the baseline is read at once
    }
    await clock.advance(20_000 - clock.monotonic());
    const grid = [5_000, 10_000, 15_000, 20_000].flatMap((t) => [t, t, t]);
    expect(readAt).toEqual([0, 1_234, 3_777, ...grid]);
  });

  it('start() with an aborted signal rejects and leaves the watcher stopped', async () => {
    const { w } = setup();
    const ac = new AbortController();
    ac.abort();
    await expect(w.start({ signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expect(w.state).toBe('stopped');
  });
});
