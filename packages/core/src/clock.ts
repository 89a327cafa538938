import { AbortError } from './errors.js';

/** A scheduled callback; `cancel()` is idempotent. */
export interface Timer {
  /** Stops the callback from running (again). Safe to call after it fired. */
  cancel(): void;
}

/**
 * Every timer in mesh comes from a Clock, so tests drive time with FakeClock.
 * `now()` is wall-clock time (ms since the epoch: it jumps on suspend/resume and NTP steps);
 * `monotonic()` never jumps and does not advance while the host is suspended. Comparing the two
 * is how watchers detect a clock jump.
 */
export interface Clock {
  /** Wall-clock time in ms since the epoch; jumps on suspend/resume and NTP steps. */
  now(): number;
  /** Monotonic time in ms; never jumps, so durations are measured with it. */
  monotonic(): number;
  /** Runs `fn` once after `ms`. */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Runs `fn` every `ms` until cancelled. */
  setInterval(fn: () => void, ms: number): Timer;
  /** Resolves after `ms`; rejects with AbortError when `signal` aborts first. */
  sleep(ms: number, options?: { signal?: AbortSignal }): Promise<void>;
}

abstract class BaseClock implements Clock {
  abstract now(): number;
  abstract monotonic(): number;
  abstract setTimeout(fn: () => void, ms: number): Timer;
  abstract setInterval(fn: () => void, ms: number): Timer;

  sleep(ms: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        timer.cancel();
        reject(abortReason(signal!));
      };
      const timer = this.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** The process's real clocks. Timers are unref'd: a pending mesh timer never keeps a process alive. */
export class SystemClock extends BaseClock {
  /** Wall-clock time: `Date.now()`. */
  now(): number {
    return Date.now();
  }
  /** Monotonic time: `performance.now()` (does not advance while the host sleeps). */
  monotonic(): number {
    return performance.now();
  }
  /** Runs `fn` once after `ms` (a negative delay counts as 0). */
  setTimeout(fn: () => void, ms: number): Timer {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  }
  /** Runs `fn` every `ms` (at least 1 ms) until cancelled. */
  setInterval(fn: () => void, ms: number): Timer {
    const t = setInterval(fn, Math.max(1, ms));
    t.unref?.();
    return { cancel: () => clearInterval(t) };
  }
}

/** The shared SystemClock every mesh component uses unless given another clock. */
export const systemClock: Clock = new SystemClock();

interface FakeTimer {
  id: number;
  due: number;
  fn: () => void;
  interval: number | null;
  cancelled: boolean;
}

/**
 * A clock that moves only when told. `advance(ms)` fires due timers in order and lets pending
 * promise callbacks run between them, so async code driven by timers behaves as it would live.
 * `jump(ms)` moves wall time only, like a suspend/resume or an NTP step.
 */
export class FakeClock extends BaseClock {
  #mono = 0;
  #wallOffset: number;
  #timers: FakeTimer[] = [];
  #nextId = 1;

  constructor(startWallMs = 1_700_000_000_000) {
    super();
    this.#wallOffset = startWallMs;
  }

  /** Wall time: the start time plus every advance and jump. */
  now(): number {
    return this.#wallOffset + this.#mono;
  }
  /** Monotonic time: ms advanced since construction (jumps do not count). */
  monotonic(): number {
    return this.#mono;
  }

  /** Runs `fn` once when `advance()` reaches `ms` from now. */
  setTimeout(fn: () => void, ms: number): Timer {
    return this.#add(fn, Math.max(0, ms), null);
  }
  /** Runs `fn` every `ms` (at least 1 ms) of advanced time until cancelled. */
  setInterval(fn: () => void, ms: number): Timer {
    const every = Math.max(1, ms);
    return this.#add(fn, every, every);
  }

  #add(fn: () => void, delay: number, interval: number | null): Timer {
    const t: FakeTimer = { id: this.#nextId++, due: this.#mono + delay, fn, interval, cancelled: false };
    this.#timers.push(t);
    return {
      cancel: () => {
        t.cancelled = true;
        this.#timers = this.#timers.filter((x) => x !== t);
      },
    };
  }

  /** Number of timers not yet fired or cancelled. */
  pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves wall-clock time without firing timers (suspend/resume, NTP step). */
  jump(ms: number): void {
    this.#wallOffset += ms;
  }

  /** Advances monotonic (and wall) time by `ms`, firing every timer that falls due, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.#mono + Math.max(0, ms);
    await flushMicrotasks();
    for (let guard = 0; guard < 1_000_000; guard++) {
      const next = this.#nextDue(target);
      if (!next) break;
      this.#mono = Math.max(this.#mono, next.due);
      if (next.interval === null) {
        this.#timers = this.#timers.filter((x) => x !== next);
      } else {
        next.due += next.interval;
      }
      next.fn();
      await flushMicrotasks();
    }
    this.#mono = target;
    await flushMicrotasks();
  }

  /** Advances to the next due timer and fires it (and anything due at the same instant). */
  async runNext(): Promise<boolean> {
    const next = this.#nextDue(Number.POSITIVE_INFINITY);
    if (!next) return false;
    await this.advance(next.due - this.#mono);
    return true;
  }

  #nextDue(limit: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.#timers) {
      if (t.cancelled || t.due > limit) continue;
      if (!best || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t;
    }
    return best;
  }
}

/** Lets queued promise callbacks (and the I/O-free callbacks they schedule) run. */
export async function flushMicrotasks(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/**
 * The reason of an aborted signal as a MeshError: kept when it already has a code, wrapped in an AbortError otherwise.
 */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error && typeof (r as { code?: unknown }).code === 'string') return r;
  return new AbortError(r instanceof Error ? r.message : 'the operation was aborted', { cause: r });
}
