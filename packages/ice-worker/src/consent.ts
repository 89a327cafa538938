import type { Clock, Logger, Timer } from '@mesh/core';
import { CONSENT_CHECK_MS, CONSENT_TIMEOUT_MS } from './constants.js';

/** Inputs of the consent rule once STUN consent lapsed (monotonic ms). */
export interface ConsentState {
  /** When the remote last answered an authenticated check or probe on the pair; null = never. */
  lastAnswerMono: number | null;
  /** Now. */
  nowMono: number;
  /** The consent timeout. */
  timeoutMs: number;
}

/**
 * The consent rule once the ICE library's STUN consent expired, pure: true keeps the session. RFC 7675 forbids sending to a 5-tuple whose remote has not answered an
 * authenticated request for 30 s; it protects a party that never asked for our traffic. A probe
 * answer echoes a random id only our endpoint knows, so it proves just what a consent response
 * proves (the remote at that address receives us and answers): either one keeps consent. Filters
 * that drop small STUN packets but pass data therefore no longer end a session that carries data.
 */
export function consentHolds(s: ConsentState): boolean {
  return s.lastAnswerMono !== null && s.nowMono - s.lastAnswerMono < s.timeoutMs;
}

/** Options of a ConsentKeeper. */
export interface ConsentKeeperOptions {
  /** Clock for the expiry check. */
  clock: Clock;
  /** Logger for the soft-consent and expiry reports. */
  log: Logger;
  /** Consent expired: the agent fails the session (called at most once). */
  onExpired: () => void;
  /** Default CONSENT_TIMEOUT_MS (30 s). */
  timeoutMs?: number;
}

/**
 * One agent's consent once its ICE library's STUN consent lapsed: keeps the session while probe
 * answers arrive (`answered()`), and calls `onExpired` when they too have been missing for the
 * consent timeout. Owns one interval timer, from `stunLapsed()` to expiry or `stop()`.
 */
export class ConsentKeeper {
  readonly #o: ConsentKeeperOptions;
  readonly #timeoutMs: number;
  #lastAnswerMono: number | null = null;
  #timer: Timer | undefined;
  #done = false;

  constructor(options: ConsentKeeperOptions) {
    this.#o = options;
    this.#timeoutMs = options.timeoutMs ?? CONSENT_TIMEOUT_MS;
  }

  /** True while consent is kept by probe answers alone. */
  get soft(): boolean {
    return this.#timer !== undefined;
  }

  /** The remote answered an authenticated check or probe on the selected pair. */
  answered(): void {
    this.#lastAnswerMono = this.#o.clock.monotonic();
  }

  /** The library's STUN consent expired. True: the session stays (consent is soft); false: it ends now. */
  stunLapsed(): boolean {
    if (this.#done) return false;
    if (!this.#holds()) {
      this.#done = true;
      return false;
    }
    if (!this.#timer) {
      this.#o.log.warn('ice-consent-soft', {
        lastAnswerAgoMs: this.#o.clock.monotonic() - (this.#lastAnswerMono ?? 0),
      });
      this.#timer = this.#o.clock.setInterval(() => this.#check(), CONSENT_CHECK_MS);
    }
    return true;
  }

  /** Cancels the expiry check. Idempotent. */
  stop(): void {
    this.#done = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #holds(): boolean {
    return consentHolds({
      lastAnswerMono: this.#lastAnswerMono,
      nowMono: this.#o.clock.monotonic(),
      timeoutMs: this.#timeoutMs,
    });
  }

  #check(): void {
    if (this.#holds()) return;
    this.stop();
    this.#o.log.warn('ice-consent-expired', { timeoutMs: this.#timeoutMs });
    this.#o.onExpired();
  }
}
