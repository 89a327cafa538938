import {
  abortReason,
  type Clock,
  ClosedError,
  type Logger,
  PeerKey,
  silentLogger,
  systemClock,
  type Timer,
  TypedEmitter,
  toError,
} from '@mesh/core';
import {
  CLOCK_JUMP_TOLERANCE_MS,
  FIRST_HANDSHAKE_TIMEOUT_MS,
  HANDSHAKE_CHECK_INTERVAL_MS,
  HANDSHAKE_STALE_AFTER_MS,
} from './constants.js';
import type { WgDevice, WgOpOptions } from './device.js';

/** Why a watcher fired: no handshake after arming, a handshake grown stale, a clock jump, or a failed device read. */
export type HandshakeTimeoutReason = 'no-first-handshake' | 'stale' | 'clock-jump' | 'read-error';

/** A handshake newer than any seen before (the `handshake` event). */
export interface HandshakeInfo {
  /** The watched peer. */
  peer: PeerKey;
  /** Wall-clock ms of the handshake just seen. */
  lastHandshakeAt: number;
  /** True for the first handshake newer than the baseline after start()/reset(). */
  first: boolean;
}

/** Why and when a watcher fired (the `handshake-timeout` event). */
export interface HandshakeTimeoutInfo {
  /** The watched peer. */
  peer: PeerKey;
  /** What made the watcher fire. */
  reason: HandshakeTimeoutReason;
  /** The newest handshake seen (the baseline when none was newer), wall ms; 0 = never. */
  lastHandshakeAt: number;
  /** Handshake time read when the watcher was armed. */
  baseline: number;
  /** Human-readable detail for logs. */
  detail: string;
  /** The read error, for `read-error`. */
  error?: Error;
}

/** Events of a HandshakeWatcher. */
export interface HandshakeWatcherEvents {
  /** A handshake newer than any seen since arming. */
  handshake: (info: HandshakeInfo) => void;
  /** Fired once per arming; the watcher then stays quiet until reset() or start(). */
  'handshake-timeout': (info: HandshakeTimeoutInfo) => void;
}

/** Options of a HandshakeWatcher. */
export interface HandshakeWatcherOptions {
  /** The device to read the peer's last handshake from. */
  device: Pick<WgDevice, 'name' | 'getPeer'>;
  /** The peer to watch. */
  peer: PeerKey | string;
  /** Clock for the deadlines and the jump check; `systemClock` by default. */
  clock?: Clock;
  /** Logger; silent by default. */
  logger?: Logger;
  /** A handshake newer than the baseline must appear within this long after arming. NetBird: 30 s. */
  firstHandshakeTimeoutMs?: number;
  /** After that, a last handshake older than this is dead. NetBird: 3 min 30 s (WireGuard rekeys every 2 min). */
  staleAfterMs?: number;
  /**
   * Longest gap between two reads of the device. Default 5000 ms. Checks fall on a shared grid of
   * this interval (plus each deadline), so the watchers of one device share their reads.
   */
  checkIntervalMs?: number;
  /** Wall vs monotonic drift between two checks (or a handshake this far in the future) that counts as a clock jump. Default 5000 ms. */
  clockJumpToleranceMs?: number;
}

/**
 * Lifecycle of a HandshakeWatcher: not running, reading its baseline, watching, or fired (quiet
 * until reset() or start()).
 */
export type State = 'stopped' | 'arming' | 'watching' | 'fired';

// One live watcher per device interface and peer. A new watcher for the same peer supersedes (stops)
// the old one, so "start" always leaves a running watcher and an old one can never fire into a new
// connection (NetBird #6664, #7091).
const registry = new Map<string, HandshakeWatcher>();

/**
 * WireGuard handshake liveness for one peer, as NetBird's watcher: start() reads the current
 * handshake time as baseline *before* the caller configures the path (#5213); then a newer
 * handshake must appear within `firstHandshakeTimeoutMs`, and afterwards the last handshake must
 * never get older than `staleAfterMs`. A jump between wall and monotonic time (suspend/resume, NTP
 * step) or a handshake in the future fires `clock-jump`; a failed read fires `read-error`.
 * Every start/reset/stop starts a new epoch: results of reads begun in an older epoch are
 * discarded, so a stopped or re-armed watcher never fires for its past.
 */
export class HandshakeWatcher extends TypedEmitter<HandshakeWatcherEvents> {
  /** The watched peer. */
  readonly peer: PeerKey;
  readonly #device: Pick<WgDevice, 'name' | 'getPeer'>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #firstMs: number;
  readonly #staleMs: number;
  readonly #intervalMs: number;
  readonly #jumpMs: number;
  readonly #key: string;

  #state: State = 'stopped';
  #epoch = 0;
  #arming: Promise<void> | undefined;
  #timer: Timer | undefined;
  #baseline = 0;
  #lastSeen = 0;
  #seen = false;
  #armedMono = 0;
  #lastCheck = { wall: 0, mono: 0 };

  constructor(options: HandshakeWatcherOptions) {
    super();
    this.peer = PeerKey.from(options.peer);
    this.#device = options.device;
    this.#clock = options.clock ?? systemClock;
    this.#firstMs = options.firstHandshakeTimeoutMs ?? FIRST_HANDSHAKE_TIMEOUT_MS;
    this.#staleMs = options.staleAfterMs ?? HANDSHAKE_STALE_AFTER_MS;
    this.#intervalMs = options.checkIntervalMs ?? HANDSHAKE_CHECK_INTERVAL_MS;
    this.#jumpMs = options.clockJumpToleranceMs ?? CLOCK_JUMP_TOLERANCE_MS;
    this.#key = `${options.device.name}\0${this.peer.base64}`;
    this.#log = (options.logger ?? silentLogger).child({
      component: 'handshake-watcher',
      peer: this.peer.toShortString(),
    });
  }

  /** The live watcher for a device interface and peer, if any. */
  static current(deviceName: string, peer: PeerKey | string): HandshakeWatcher | undefined {
    return registry.get(`${deviceName}\0${PeerKey.from(peer).base64}`);
  }

  /** Where the watcher is in its lifecycle. */
  get state(): State {
    return this.#state;
  }

  /**
   * Reads the baseline and arms. Resolves once the baseline is read: configure the path after
   * that. No-op while armed; re-arms a watcher that has fired or was stopped.
   */
  start(options: WgOpOptions = {}): Promise<void> {
    if (this.#state === 'arming' || this.#state === 'watching') return this.#arming ?? Promise.resolve();
    const old = registry.get(this.#key);
    if (old && old !== this) {
      this.#log.info('watcher-superseded');
      old.stop();
    }
    registry.set(this.#key, this);
    return this.#arm(options);
  }

  /** New baseline, new first-handshake window (e.g. after switching paths). Rejects with ERR_CLOSED when stopped. */
  reset(options: WgOpOptions = {}): Promise<void> {
    if (this.#state === 'stopped') return Promise.reject(new ClosedError('handshake watcher is stopped; call start()'));
    return this.#arm(options);
  }

  /** Idempotent. Nothing is emitted after it, even by reads already in flight. */
  stop(): void {
    if (this.#state === 'stopped') return;
    this.#epoch++;
    this.#state = 'stopped';
    this.#arming = undefined;
    this.#timer?.cancel();
    this.#timer = undefined;
    if (registry.get(this.#key) === this) registry.delete(this.#key);
  }

  #arm(options: WgOpOptions): Promise<void> {
    const epoch = ++this.#epoch;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#state = 'arming';
    const arming = (async () => {
      if (options.signal?.aborted) {
        this.stop();
        throw abortReason(options.signal);
      }
      let baseline = 0;
      try {
        baseline = (await this.#device.getPeer(this.peer, options))?.lastHandshakeAt ?? 0;
      } catch (err) {
        if (epoch !== this.#epoch) return;
        if (options.signal?.aborted) {
          this.stop();
          throw err;
        }
        // The first check reads again and reports a persistent failure as read-error.
        this.#log.warn('baseline-read-failed', { error: toError(err).message });
      }
      if (epoch !== this.#epoch) return;
      this.#baseline = baseline;
      this.#lastSeen = baseline;
      this.#seen = false;
      this.#armedMono = this.#clock.monotonic();
      this.#lastCheck = { wall: this.#clock.now(), mono: this.#armedMono };
      this.#state = 'watching';
      this.#log.debug('armed', { baseline });
      this.#schedule(epoch);
    })();
    this.#arming = arming;
    return arming;
  }

  #schedule(epoch: number): void {
    // Periodic checks fall on a grid of checkIntervalMs (monotonic time), not on each watcher's own
    // phase: every watcher of a device then reads at the same moment and the device serves them all
    // with a few shared requests — N watchers cost O(1) reads per interval, not N (each read lists
    // every peer, so unaligned polling grows as N²).
    const mono = this.#clock.monotonic();
    let delay = this.#intervalMs > 0 ? this.#intervalMs - (mono % this.#intervalMs) : 0;
    if (this.#seen) delay = Math.min(delay, this.#lastSeen + this.#staleMs - this.#clock.now());
    else delay = Math.min(delay, this.#armedMono + this.#firstMs - mono);
    this.#timer = this.#clock.setTimeout(() => void this.#check(epoch), Math.max(0, delay));
  }

  async #check(epoch: number): Promise<void> {
    if (epoch !== this.#epoch) return;
    this.#timer = undefined;
    const wall = this.#clock.now();
    const mono = this.#clock.monotonic();
    const drift = wall - this.#lastCheck.wall - (mono - this.#lastCheck.mono);
    this.#lastCheck = { wall, mono };
    if (Math.abs(drift) > this.#jumpMs) {
      return this.#fire('clock-jump', `wall clock moved ${Math.round(drift)} ms against monotonic time`);
    }
    let state: Awaited<ReturnType<WgDevice['getPeer']>>;
    try {
      state = await this.#device.getPeer(this.peer);
    } catch (err) {
      if (epoch !== this.#epoch) return;
      return this.#fire('read-error', `reading the device failed: ${toError(err).message}`, toError(err));
    }
    if (epoch !== this.#epoch) return;
    const now = this.#clock.now();
    const hs = state?.lastHandshakeAt ?? 0;
    if (hs > now + this.#jumpMs) return this.#fire('clock-jump', `handshake ${hs - now} ms in the future`);
    if (state && hs > this.#lastSeen) {
      const first = !this.#seen;
      this.#lastSeen = hs;
      this.#seen = true;
      this.emit('handshake', { peer: this.peer, lastHandshakeAt: hs, first });
      if (epoch !== this.#epoch) return; // a listener stopped or re-armed us
    }
    if (!this.#seen) {
      if (this.#clock.monotonic() - this.#armedMono >= this.#firstMs) {
        return this.#fire(
          'no-first-handshake',
          state
            ? `no handshake newer than the baseline within ${this.#firstMs} ms`
            : `peer not on the device after ${this.#firstMs} ms`,
        );
      }
    } else if (!state) {
      return this.#fire('read-error', 'the peer was removed from the device');
    } else if (now - this.#lastSeen >= this.#staleMs) {
      return this.#fire('stale', `last handshake ${now - this.#lastSeen} ms ago (bound ${this.#staleMs} ms)`);
    }
    this.#schedule(epoch);
  }

  #fire(reason: HandshakeTimeoutReason, detail: string, error?: Error): void {
    this.#state = 'fired';
    this.#timer?.cancel();
    this.#timer = undefined;
    const info: HandshakeTimeoutInfo = {
      peer: this.peer,
      reason,
      lastHandshakeAt: this.#lastSeen,
      baseline: this.#baseline,
      detail,
    };
    if (error) info.error = error;
    this.#log.info('handshake-timeout', { reason, detail, lastHandshakeAt: this.#lastSeen });
    this.emit('handshake-timeout', info);
  }
}
