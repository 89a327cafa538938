import type { Backoff, Clock, Logger } from '@mesh/core';
import { toError } from '@mesh/core';
import { RETRY_HINT_MIN_MS } from './constants.js';
import type { Track } from './track.js';

export interface LadderOptions {
  clock: Clock;
  log: Logger;
  /** The manager's stop signal: ends the ladder (and any wait) for good. */
  signal: AbortSignal;
  urls: readonly string[];
  quickRetryMs: number;
  backoff: Backoff;
  random: () => number;
  /** Re-dials the lost URL once. */
  dial(url: string, signal: AbortSignal): Promise<Track>;
  /** A full home race. */
  race(signal: AbortSignal): Promise<Track>;
  /** Installs the new home; may throw (then the ladder goes on). */
  install(track: Track): void;
}

/**
 * Re-dials a lost home relay: a quick retry of the lost URL (most losses are a server restart or a
 * blip), then full races on a jittered backoff ladder until one succeeds or the manager stops.
 * Runs at most once at a time.
 */
export class ReconnectLadder {
  readonly #o: LadderOptions;
  #running = false;
  /** Aborted by `wake` to cut the current wait short; set only during a wait. */
  #wake: AbortController | undefined;
  #hintAt = Number.NEGATIVE_INFINITY;

  constructor(options: LadderOptions) {
    this.#o = options;
  }

  /** True while the ladder waits for its next attempt. */
  get waiting(): boolean {
    return this.#wake !== undefined;
  }

  /** A home is installed: the next loss starts at the bottom of the ladder. */
  reset(): void {
    this.#o.backoff.reset();
  }

  start(lostUrl: string | undefined): void {
    if (this.#o.signal.aborted || this.#running) return;
    this.#running = true;
    void this.#loop(lostUrl);
  }

  /** Cuts the current wait short, at most once per RETRY_HINT_MIN_MS; returns whether it did. */
  wake(serverUrl: string, reason: string): boolean {
    const wake = this.#wake;
    if (!wake) return false;
    const now = this.#o.clock.monotonic();
    if (now - this.#hintAt < RETRY_HINT_MIN_MS) return false;
    this.#hintAt = now;
    this.#o.log.info('home-reconnect-hint', { server: serverUrl, reason });
    wake.abort();
    return true;
  }

  async #loop(lostUrl: string | undefined): Promise<void> {
    const { signal, backoff, log } = this.#o;
    let quick = lostUrl !== undefined && this.#o.urls.includes(lostUrl);
    for (;;) {
      // Every client of a restarted server lost it at the same instant: the quick retry is jittered too.
      const delay = quick ? jittered(this.#o.quickRetryMs, backoff.jitter, this.#o.random) : backoff.next();
      log.info('home-reconnect-wait', { delayMs: delay, quick, attempt: backoff.attempt });
      const wake = new AbortController();
      const onStop = () => wake.abort();
      signal.addEventListener('abort', onStop, { once: true });
      this.#wake = wake;
      try {
        await this.#o.clock.sleep(delay, { signal: wake.signal });
      } catch {
        if (signal.aborted) return; // stopped; otherwise woken by a hint: dial now
      } finally {
        this.#wake = undefined;
        signal.removeEventListener('abort', onStop);
      }
      try {
        const track = quick ? await this.#o.dial(lostUrl!, signal) : await this.#o.race(signal);
        // Cleared before installing, so a home that dies while being installed starts a new loop.
        this.#running = false;
        this.#o.install(track);
        return;
      } catch (err) {
        if (signal.aborted) return;
        this.#running = true;
        log.info('home-reconnect-failed', { quick, error: toError(err) });
      }
      quick = false;
    }
  }
}

function jittered(ms: number, jitter: number, random: () => number): number {
  return Math.round(ms * (1 + jitter * (2 * random() - 1)));
}
