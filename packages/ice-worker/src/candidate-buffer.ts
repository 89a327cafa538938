import type { Clock, Logger } from '@mesh/core';
import { DEAD_SESSIONS_REMEMBERED } from './constants.js';
import type { IceCandidateMessage } from './wire.js';

interface BufferedCandidate extends IceCandidateMessage {
  expiresAt: number;
}

/**
 * Remote candidates for sessions IceWorker runs no agent for: those of a session not seen yet are
 * held (bounded, oldest dropped first, each for `ttlMs`) until its agent exists; those of an ended
 * session are dropped. No timers: expired candidates are purged whenever the buffer is used.
 */
export class CandidateBuffer {
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #max: number;
  readonly #ttlMs: number;
  #held: BufferedCandidate[] = [];
  /** Remote session ids whose agents are gone, oldest first. */
  #dead: string[] = [];

  constructor(options: { clock: Clock; log: Logger; max: number; ttlMs: number }) {
    this.#clock = options.clock;
    this.#log = options.log;
    this.#max = options.max;
    this.#ttlMs = options.ttlMs;
  }

  /** Candidates held (expired ones included until the next purge). */
  get size(): number {
    return this.#held.length;
  }

  isDead(sessionId: string): boolean {
    return this.#dead.includes(sessionId);
  }

  /** The remote session's agent is gone: its late candidates are dropped from now on. */
  markDead(sessionId: string): void {
    this.#dead.push(sessionId);
    if (this.#dead.length > DEAD_SESSIONS_REMEMBERED) this.#dead.shift();
  }

  hold(message: IceCandidateMessage): void {
    this.#purgeExpired();
    if (this.#held.length >= this.#max) {
      const dropped = this.#held.shift();
      this.#log.debug('ice-candidate-buffer-full', { dropped: dropped?.sessionId });
    }
    this.#held.push({ ...message, expiresAt: this.#clock.monotonic() + this.#ttlMs });
  }

  /** An agent now runs for `sessionId`: it is no longer dead, and its held candidates are handed over. */
  take(sessionId: string): string[] {
    this.#dead = this.#dead.filter((id) => id !== sessionId);
    this.#purgeExpired();
    const mine = this.#held.filter((b) => b.sessionId === sessionId);
    this.#held = this.#held.filter((b) => b.sessionId !== sessionId);
    return mine.map((b) => b.candidate);
  }

  /** Drops every held candidate; the dead list stays. */
  clear(): void {
    this.#held = [];
  }

  /** Forgets everything. */
  reset(): void {
    this.#held = [];
    this.#dead = [];
  }

  #purgeExpired(): void {
    const now = this.#clock.monotonic();
    this.#held = this.#held.filter((b) => b.expiresAt > now);
  }
}
