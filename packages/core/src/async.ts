import { abortReason, type Clock, systemClock } from './clock.js';
import { TimeoutError } from './errors.js';
import type { AnyListener, EventArgs, EventName, Subscribable } from './events.js';

/** Options shared by the waiting helpers: an abort signal, a timeout and the clock that measures it. */
export interface WaitOptions {
  /** Rejects with the signal's reason (a MeshError) when it aborts. */
  signal?: AbortSignal;
  /** Rejects with TimeoutError after this many ms (on `clock`). */
  timeoutMs?: number;
  /** Clock for the timeout; `systemClock` by default. */
  clock?: Clock;
}

/**
 * Resolves with the arguments of the next `event` (as a tuple) from a typed emitter, optionally
 * only one that satisfies `filter`. Rejects on abort or timeout; never leaves a listener. The event
 * name and the filter's arguments are checked against the emitter's event map.
 */
export function onceEvent<T extends object, K extends EventName<T>>(
  emitter: Subscribable<T>,
  event: K,
  options: WaitOptions & { filter?: (...args: EventArgs<T, K>) => boolean } = {},
): Promise<EventArgs<T, K>> {
  const { signal, timeoutMs, clock = systemClock, filter } = options;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      emitter.off(event, listener as AnyListener);
      signal?.removeEventListener('abort', onAbort);
      timer?.cancel();
    };
    const listener = (...args: EventArgs<T, K>) => {
      if (filter && !filter(...args)) return;
      cleanup();
      resolve(args);
    };
    const onAbort = () => {
      cleanup();
      reject(abortReason(signal!));
    };
    const timer =
      timeoutMs === undefined
        ? undefined
        : clock.setTimeout(() => {
            cleanup();
            reject(new TimeoutError(`timed out after ${timeoutMs} ms waiting for '${String(event)}'`));
          }, timeoutMs);
    emitter.on(event, listener as AnyListener);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `fn` with a signal that aborts when `signal` aborts or after `ms` on `clock` (TimeoutError).
 * The deadline timer is always cancelled when `fn` settles.
 */
export async function withDeadline<T>(
  ms: number,
  fn: (signal: AbortSignal) => Promise<T>,
  options: { signal?: AbortSignal; clock?: Clock; what?: string } = {},
): Promise<T> {
  const { signal, clock = systemClock, what = 'operation' } = options;
  if (signal?.aborted) throw abortReason(signal);
  const ac = new AbortController();
  const onAbort = () => ac.abort(abortReason(signal!));
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = clock.setTimeout(() => ac.abort(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
  try {
    return await raceAbort(fn(ac.signal), ac.signal);
  } finally {
    timer.cancel();
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Settles with `promise`, or rejects as soon as `signal` aborts (the promise keeps running). */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Throws the signal's reason as a MeshError (code ERR_ABORTED unless the reason has its own code). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}
