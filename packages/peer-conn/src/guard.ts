import { Backoff, type Clock, cryptoRandom, type Timer } from '@mesh/core';
import { GUARD_CAP_MIN_MS, GUARD_CAP_SPREAD_MS, GUARD_INITIAL_MS, GUARD_JITTER } from './constants.js';

/** Options of a Guard. */
export interface GuardOptions {
  /** Clock for the ticks. */
  clock: Clock;
  /** First retry delay after the immediate tick (NetBird: 0.8 s). */
  initialMs?: number;
  /** Cap of the ladder; by default drawn once per peer from [30 s, 45 s) so peers spread out. */
  maxMs?: number;
  /** Jitter of every delay (0..1). Default 0.1. */
  jitter?: number;
  /** Source of uniform [0,1) numbers for the jitter and the cap; node:crypto by default. */
  random?: () => number;
  /** Called on every tick. Runs the caller's check (usually through its serial queue). */
  onTick: () => void;
}

/**
 * The reconnect ladder of one peer: a tick at once, then ~0.8 s doubling with jitter up to the cap.
 * The owner calls `settle()` when everything is up (steady state sends nothing) and `kick()` when
 * an event says something changed (path lost, relay reconnected, remote session changed).
 */
export class Guard {
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #onTick: () => void;
  #timer: Timer | undefined;
  #stopped = false;
  /** Offline: ticks would only fail; kick() is remembered and runs on unpark(). */
  #parked = false;
  #kickedWhileParked = false;
  /** Ticks fired so far (for tests and status). */
  ticks = 0;

  constructor(options: GuardOptions) {
    const random = options.random ?? cryptoRandom;
    // floor, not round: the cap stays inside [30 s, 45 s) even for random() just under 1.
    const maxMs = options.maxMs ?? Math.floor(GUARD_CAP_MIN_MS + GUARD_CAP_SPREAD_MS * random());
    this.#clock = options.clock;
    this.#backoff = new Backoff({
      initial: options.initialMs ?? GUARD_INITIAL_MS,
      multiplier: 2,
      max: maxMs,
      jitter: options.jitter ?? GUARD_JITTER,
      random,
    });
    this.#onTick = options.onTick;
  }

  /** The cap of the ladder, in ms. */
  get capMs(): number {
    return this.#backoff.max;
  }

  /** True while a tick is scheduled. */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** True between park() and unpark(). */
  get parked(): boolean {
    return this.#parked;
  }

  /** Restarts the ladder: a tick now, then the short delays again. */
  kick(): void {
    if (this.#stopped) return;
    if (this.#parked) {
      this.#kickedWhileParked = true;
      return;
    }
    this.#backoff.reset();
    this.#schedule(0);
  }

  /** Schedules the next tick on the ladder (the caller is still not satisfied). */
  again(): void {
    if (this.#stopped || this.#parked) return;
    this.#schedule(this.#backoff.next());
  }

  /** Everything is up: no more ticks until the next kick. */
  settle(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#backoff.reset();
  }

  /**
   * The host has no network: offers cannot leave, so the ladder stops instead of growing through
   * the outage (it would meet the network's return with a 30–45 s wait). Idempotent.
   */
  park(): void {
    if (this.#stopped || this.#parked) return;
    this.#parked = true;
    this.#kickedWhileParked = this.#timer !== undefined;
    this.settle();
  }

  /** The network is back: a tick at once if one was due or asked for while parked. Idempotent. */
  unpark(): void {
    if (!this.#parked) return;
    this.#parked = false;
    const due = this.#kickedWhileParked;
    this.#kickedWhileParked = false;
    if (due) this.kick();
  }

  /** Cancels the pending tick for good; kick() and again() do nothing afterwards. */
  stop(): void {
    this.#stopped = true;
    this.settle();
  }

  #schedule(ms: number): void {
    this.#timer?.cancel();
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.ticks++;
      this.#onTick();
    }, ms);
  }
}
