import { abortReason, type Clock, raceAbort, throwIfAborted, withDeadline } from '@mesh/core';

const noop = () => {};

/**
 * Runs a device's requests one at a time, each under a deadline that covers waiting and running.
 * A request whose caller gave up before its turn never runs. `runShared` lets concurrent reads join
 * one queued request (many watchers polling one device cost one read per round, not one each).
 */
export class RequestQueue {
  #tail: Promise<unknown> = Promise.resolve();
  readonly #pending = new Map<string, Promise<unknown>>();

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly what: string,
  ) {}

  run<T>(fn: (signal: AbortSignal) => Promise<T>, options: { signal?: AbortSignal } = {}): Promise<T> {
    return withDeadline(this.timeoutMs, (signal) => this.#enqueue(fn, signal), {
      clock: this.clock,
      what: this.what,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  runShared<T>(
    key: string,
    fn: (signal: AbortSignal) => Promise<T>,
    options: { signal?: AbortSignal } = {},
  ): Promise<T> {
    if (options.signal?.aborted) return Promise.reject(abortReason(options.signal));
    let shared = this.#pending.get(key) as Promise<T> | undefined;
    if (!shared) {
      // The shared request has its own deadline and ignores any one caller's signal: a caller that
      // aborts leaves, the others keep waiting.
      const created: Promise<T> = this.run((signal) => {
        if (this.#pending.get(key) === created) this.#pending.delete(key);
        return fn(signal);
      });
      shared = created;
      this.#pending.set(key, created);
      created.then(noop, noop).finally(() => {
        if (this.#pending.get(key) === created) this.#pending.delete(key);
      });
    }
    return options.signal ? raceAbort(shared, options.signal) : shared;
  }

  #enqueue<T>(fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    const result = this.#tail.then(() => {
      throwIfAborted(signal);
      return fn(signal);
    });
    this.#tail = result.then(noop, noop);
    return result;
  }
}
