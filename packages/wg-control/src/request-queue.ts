import { abortReason, type Clock, raceAbort, TimeoutError, type Timer } from '@mesh/core';

/** Counters of one device's request queue (cumulative since construction). */
export interface RequestQueueStats {
  /** Requests sent to the device (a shared read or a batch of writes counts once). */
  requests: number;
  /** Reads that joined a read already waiting in the queue instead of sending their own. */
  joinedReads: number;
  /** Writes that went to the device inside another write's request (batched). */
  batchedWrites: number;
  /** Requests that failed with ERR_TIMEOUT: the one the device did not answer, and those queued behind it. */
  timeouts: number;
  /** Longest time a request waited for its turn, ms. */
  maxWaitMs: number;
  /** Most requests waiting at once (the running one not counted). */
  maxQueued: number;
}

/**
 * How consecutive batchable writes go to the device as one request. `run` sends the parts
 * together; when it fails with an error `retrySingly` accepts (the device refused one of them, and
 * which one is unknown), each write is sent again on its own so each caller gets its own outcome.
 * Only for writes that may safely be applied twice.
 */
export interface BatchRunner<P> {
  max: number;
  run(parts: P[], signal: AbortSignal): Promise<void>;
  retrySingly(err: Error): boolean;
}

type Fn = (signal: AbortSignal) => Promise<unknown>;

interface Entry {
  fn: Fn;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  promise: Promise<unknown>;
  /** The caller's signal; none for a shared read (its callers leave on their own). */
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Key of a shared read, while it is still waiting and may be joined. */
  key: string | undefined;
  /** Set for a write that may share a request with its neighbours. */
  part: unknown;
  queuedAt: number;
  settled: boolean;
}

interface Running {
  entries: Entry[];
  ac: AbortController;
  timer: Timer | undefined;
  timedOut: boolean;
}

const toErr = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));

/**
 * Runs a device's requests one at a time, in order.
 *
 * The deadline measures the device, not the queue: a request fails with ERR_TIMEOUT when the
 * device has not answered it within `timeoutMs` of *sending* it, and then every request waiting
 * behind it fails too (the device is not answering; waiting longer only stacks up callers). A long
 * queue in front of a healthy device (50 peers configured at once while start-up keeps the event
 * loop busy) is therefore never a timeout. The caller's signal bounds its own wait.
 *
 * `runShared` lets concurrent reads join one request that is still waiting (N watchers polling one
 * device cost one read per round, not N). A read never joins one queued before a write: a write is
 * a barrier, so a read asked for after a write sees it. `runBatched` writes waiting next to each
 * other go to the device as one request (N peers configured at start-up: one request, not N).
 */
export class RequestQueue<P = never> {
  readonly #waiting: Entry[] = [];
  readonly #joinable = new Map<string, Entry>();
  #running: Running | undefined;
  readonly #stats: RequestQueueStats = {
    requests: 0,
    joinedReads: 0,
    batchedWrites: 0,
    timeouts: 0,
    maxWaitMs: 0,
    maxQueued: 0,
  };

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly what: string,
    private readonly batch?: BatchRunner<P>,
  ) {}

  get stats(): Readonly<RequestQueueStats> {
    return { ...this.#stats };
  }

  /** A write (or any request that must not be merged): queued after everything asked for before it. */
  run<T>(fn: (signal: AbortSignal) => Promise<T>, options: { signal?: AbortSignal } = {}): Promise<T> {
    return this.#write(fn, undefined, options) as Promise<T>;
  }

  /** A write that may share one request with the batchable writes waiting next to it. */
  runBatched(part: P, fn: (signal: AbortSignal) => Promise<void>, options: { signal?: AbortSignal } = {}) {
    return this.#write(fn, part, options) as Promise<void>;
  }

  /** A read: joins the waiting read with the same key when there is one, else queues a new one. */
  runShared<T>(
    key: string,
    fn: (signal: AbortSignal) => Promise<T>,
    options: { signal?: AbortSignal } = {},
  ): Promise<T> {
    if (options.signal?.aborted) return Promise.reject(abortReason(options.signal));
    let promise = this.#joinable.get(key)?.promise as Promise<T> | undefined;
    if (promise) this.#stats.joinedReads++;
    else promise = this.#push(fn, undefined, key, undefined) as Promise<T>;
    // A caller that aborts leaves; the read goes on for the others.
    return options.signal ? raceAbort(promise, options.signal) : promise;
  }

  #write(fn: Fn, part: unknown, options: { signal?: AbortSignal }): Promise<unknown> {
    if (options.signal?.aborted) return Promise.reject(abortReason(options.signal));
    this.#joinable.clear();
    return this.#push(fn, options.signal, undefined, part);
  }

  #push(fn: Fn, signal: AbortSignal | undefined, key: string | undefined, part: unknown): Promise<unknown> {
    let resolve!: Entry['resolve'];
    let reject!: Entry['reject'];
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry: Entry = {
      fn,
      resolve,
      reject,
      promise,
      signal,
      onAbort: undefined,
      key,
      part,
      queuedAt: this.clock.monotonic(),
      settled: false,
    };
    if (signal) {
      entry.onAbort = () => this.#abort(entry, abortReason(signal));
      signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    if (key !== undefined) this.#joinable.set(key, entry);
    this.#waiting.push(entry);
    this.#stats.maxQueued = Math.max(this.#stats.maxQueued, this.#waiting.length - (this.#running ? 0 : 1));
    this.#next();
    return promise;
  }

  #settle(entry: Entry, err: Error | null, value?: unknown): void {
    if (entry.settled) return;
    entry.settled = true;
    if (entry.signal && entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
    if (entry.key !== undefined && this.#joinable.get(entry.key) === entry) this.#joinable.delete(entry.key);
    if (err) entry.reject(err);
    else entry.resolve(value);
  }

  /**
   * The caller gave up: a waiting request is dropped (never sent); a running one is cancelled,
   * unless it carries other callers' writes too.
   */
  #abort(entry: Entry, reason: Error): void {
    const i = this.#waiting.indexOf(entry);
    if (i >= 0) this.#waiting.splice(i, 1);
    const running = this.#running;
    if (running?.entries.length === 1 && running.entries[0] === entry) running.ac.abort(reason);
    this.#settle(entry, reason);
  }

  #next(): void {
    if (this.#running) return;
    const first = this.#waiting.shift();
    if (!first) return;
    const entries = [first];
    if (this.batch && first.part !== undefined) {
      while (entries.length < this.batch.max && this.#waiting[0]?.part !== undefined)
        entries.push(this.#waiting.shift()!);
    }
    // Sent now: later reads queue a fresh request instead of joining one that may already be answered.
    if (first.key !== undefined && this.#joinable.get(first.key) === first) this.#joinable.delete(first.key);
    const now = this.clock.monotonic();
    for (const e of entries) this.#stats.maxWaitMs = Math.max(this.#stats.maxWaitMs, now - e.queuedAt);
    const running: Running = { entries, ac: new AbortController(), timer: undefined, timedOut: false };
    this.#running = running;
    void this.#drive(running).finally(() => {
      if (this.#running === running) this.#running = undefined;
      this.#next();
    });
  }

  async #drive(running: Running): Promise<void> {
    const { entries } = running;
    if (entries.length === 1) {
      const [entry] = entries as [Entry];
      const r = await this.#send(running, entry.fn);
      if (!running.timedOut) this.#settle(entry, r.err, r.value);
      return;
    }
    this.#stats.batchedWrites += entries.length - 1;
    const batch = this.batch!;
    const r = await this.#send(running, (signal) =>
      batch.run(
        entries.map((e) => e.part as P),
        signal,
      ),
    );
    if (running.timedOut) return;
    if (!r.err || !batch.retrySingly(r.err)) {
      for (const e of entries) this.#settle(e, r.err);
      return;
    }
    for (const e of entries) {
      if (e.settled) continue; // its caller left meanwhile
      const one = await this.#send(running, e.fn);
      if (running.timedOut) return;
      this.#settle(e, one.err, one.value);
    }
  }

  /** One request on the wire, under its own deadline. */
  async #send(running: Running, fn: Fn): Promise<{ err: Error | null; value?: unknown }> {
    this.#stats.requests++;
    running.timer = this.clock.setTimeout(() => this.#expire(running), this.timeoutMs);
    try {
      return { err: null, value: await fn(running.ac.signal) };
    } catch (err) {
      return { err: toErr(err) };
    } finally {
      running.timer?.cancel();
    }
  }

  // A deadline that falls due is confirmed one timer turn later: when the event loop was blocked
  // past the deadline, a reply already waiting in the socket is read first instead of losing the race.
  #expire(running: Running): void {
    running.timer = this.clock.setTimeout(() => {
      if (this.#running !== running) return;
      this.#running = undefined;
      running.timedOut = true;
      const err = new TimeoutError(`${this.what} timed out after ${this.timeoutMs} ms`);
      running.ac.abort(err);
      const behind = this.#waiting.splice(0);
      this.#joinable.clear();
      for (const e of running.entries) {
        if (!e.settled) this.#stats.timeouts++;
        this.#settle(e, err);
      }
      for (const e of behind) {
        this.#stats.timeouts++;
        this.#settle(
          e,
          new TimeoutError(
            `${this.what} timed out: the device did not answer the request ahead of it within ${this.timeoutMs} ms`,
          ),
        );
      }
    }, 0);
  }
}
