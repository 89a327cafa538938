import { InvalidArgumentError } from './errors.js';
import { cryptoRandom } from './random.js';

/** Parameters of a Backoff ladder. */
export interface BackoffOptions {
  /** First delay in ms. */
  initial: number;
  /** Growth factor per attempt (>= 1). */
  multiplier?: number;
  /** Upper bound of the un-jittered delay, ms. */
  max: number;
  /** Each delay is scaled by a uniform factor in [1 - jitter, 1 + jitter]. 0..1. */
  jitter?: number;
  /** Source of uniform [0,1) numbers; defaults to node:crypto. */
  random?: () => number;
}

/**
 * Jittered exponential backoff. `next()` returns the delay before the next attempt and advances
 * the ladder; `reset()` starts over. Jitter spreads retries so peers that lost the same server at
 * the same instant do not come back in lockstep.
 */
export class Backoff {
  /** First delay in ms. */
  readonly initial: number;
  /** Growth factor per attempt. */
  readonly multiplier: number;
  /** Upper bound of the un-jittered delay, ms. */
  readonly max: number;
  /** Half-width of the uniform jitter factor (0..1). */
  readonly jitter: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions) {
    const { initial, multiplier = 2, max, jitter = 0.1, random = cryptoRandom } = options;
    if (!(initial > 0) || !(max >= initial)) {
      throw new InvalidArgumentError(`backoff needs 0 < initial <= max, got initial=${initial} max=${max}`);
    }
    if (!(multiplier >= 1)) throw new InvalidArgumentError(`backoff multiplier must be >= 1, got ${multiplier}`);
    if (!(jitter >= 0 && jitter <= 1))
      throw new InvalidArgumentError(`backoff jitter must be in [0, 1], got ${jitter}`);
    this.initial = initial;
    this.multiplier = multiplier;
    this.max = max;
    this.jitter = jitter;
    this.#random = random;
  }

  /** How many delays `next()` has handed out since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The un-jittered delay the next call will be based on. */
  peekBase(): number {
    return Math.min(this.max, this.initial * this.multiplier ** this.#attempt);
  }

  /** The jittered delay before the next attempt, in ms; advances the ladder by one step. */
  next(): number {
    const base = this.peekBase();
    this.#attempt++;
    const factor = 1 + this.jitter * (2 * this.#random() - 1);
    return Math.max(0, Math.round(base * factor));
  }

  /** Starts the ladder over from `initial` (call it after a success). */
  reset(): void {
    this.#attempt = 0;
  }
}
