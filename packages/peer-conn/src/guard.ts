import { Backoff, type Clock, cryptoRandom, type Timer } from '@mesh/core';
import { GUARD_CAP_MIN_MS, GUARD_CAP_SPREAD_MS, GUARD_INITIAL_MS, GUARD_JITTER } from './constants.js';

export interface GuardOptions {
  clock: Clock;
  /** First retry delay after the immediate tick (NetBird: 0.8 s). */
  initialMs?: number;
  /** Cap of the ladder; by default drawn once per peer from [30 s, 45 s) so peers spread out. */
  maxMs?: number;
  jitter?: number;
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

  get capMs(): number {
    return this.#backoff.max;
  }

  /** True while a tick is scheduled. */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Restarts the ladder: a tick now, then the short delays again. */
  kick(): void {
    if (this.#stopped) return;
    this.#backoff.reset();
    this.#schedule(0);
  }

  /** Schedules the next tick on the ladder (the caller is still not satisfied). */
  again(): void {
    if (this.#stopped) return;
    this.#schedule(this.#backoff.next());
  }

  /** Everything is up: no more ticks until the next kick. */
  settle(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#backoff.reset();
  }

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
