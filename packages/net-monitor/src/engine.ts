import {
  abortReason,
  type Clock,
  ClosedError,
  hasCode,
  InvalidArgumentError,
  type Logger,
  silentLogger,
  systemClock,
  type Timer,
  TypedEmitter,
  throwIfAborted,
  toError,
} from '@mesh/core';
import { DEFAULTS, READ_FAILURES_BEFORE_FALLBACK } from './constants.js';
import {
  type NetMonitorError,
  NetMonitorErrorCodes,
  NetMonitorFailedError,
  NetMonitorNotStartedError,
} from './errors.js';
import { diffSnapshots, makeSnapshot, type SnapshotParts } from './snapshot.js';
import type {
  NetworkMonitor,
  NetworkMonitorEvents,
  NetworkMonitorOptions,
  NetworkMonitorStartOptions,
  NetworkSnapshot,
} from './types.js';

/** What a source tells the engine. */
export interface SourceSink {
  /** Something may have changed: a kernel event, a poll that read something new. */
  changed(): void;
  /** The source can no longer watch; the engine falls back (when it has a fallback) and reports `err`. */
  broken(err: NetMonitorError): void;
}

/**
 * A way of watching the network: raw "something changed" events plus a reader of the current
 * state. The seam between the debounce/diff logic (here) and a platform (ip monitor, polling).
 */
export interface MonitorSource {
  /** Starts delivering raw events to `sink`. Called once. */
  watch(sink: SourceSink): void;
  /** Reads the current state; rejects `ERR_NETMON_UNAVAILABLE` when it never will, `ERR_NETMON_READ` otherwise. */
  read(signal: AbortSignal): Promise<SnapshotParts>;
  /** Stops watching and releases everything. Idempotent; safe without `watch`. */
  close(): Promise<void>;
}

/** NetworkMonitorOptions with the defaults filled in. */
export interface EngineOptions {
  clock: Clock;
  logger: Logger;
  debounceMs: number;
  maxDelayMs: number;
  ignoreInterface: (name: string) => boolean;
}

/** Validates the shared options and fills in their defaults. */
export function engineOptions(options: NetworkMonitorOptions): EngineOptions {
  const { debounceMs = DEFAULTS.debounceMs, maxDelayMs = Math.max(DEFAULTS.maxDelayMs, debounceMs) } = options;
  if (!(debounceMs >= 0) || !Number.isFinite(debounceMs)) {
    throw new InvalidArgumentError(`debounceMs must be a finite number >= 0, got ${debounceMs}`);
  }
  if (!(maxDelayMs >= debounceMs) || !Number.isFinite(maxDelayMs)) {
    throw new InvalidArgumentError(`maxDelayMs must be finite and >= debounceMs (${debounceMs}), got ${maxDelayMs}`);
  }
  return {
    clock: options.clock ?? systemClock,
    logger: (options.logger ?? silentLogger).child({ component: 'net-monitor' }),
    debounceMs,
    maxDelayMs,
    ignoreInterface: options.ignoreInterface ?? (() => false),
  };
}

type State = 'idle' | 'starting' | 'running' | 'stopped';

/**
 * The part every NetworkMonitor shares: lifecycle, the debounce window, the diff against the last
 * emitted snapshot, and falling back from a broken source to another one. It emits on `emitter`
 * (the public monitor object that owns it).
 */
export class MonitorEngine {
  readonly #emitter: TypedEmitter<NetworkMonitorEvents>;
  readonly #opts: EngineOptions;
  readonly #fallback: (() => MonitorSource) | undefined;
  readonly #ac = new AbortController();
  #source: MonitorSource;
  #fellBack = false;
  #state: State = 'idle';
  #starting?: Promise<void>;
  #stopping?: Promise<void>;
  #last?: NetworkSnapshot;
  #windowStart?: number;
  #timer?: Timer;
  // One read at a time; a window that ends during a read runs another one right after it.
  #reading = false;
  #again = false;
  #readFailures = 0;

  constructor(
    emitter: TypedEmitter<NetworkMonitorEvents>,
    primary: MonitorSource,
    fallback: (() => MonitorSource) | undefined,
    options: EngineOptions,
  ) {
    this.#emitter = emitter;
    this.#source = primary;
    this.#fallback = fallback;
    this.#opts = options;
  }

  /** See NetworkMonitor.start. */
  start(options: NetworkMonitorStartOptions = {}): Promise<void> {
    if (this.#state === 'stopped') return Promise.reject(new ClosedError('the network monitor was stopped'));
    this.#starting ??= this.#start(options.signal);
    return this.#starting;
  }

  async #start(signal: AbortSignal | undefined): Promise<void> {
    const onAbort = () => void this.stop();
    try {
      throwIfAborted(signal);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#state = 'starting';
      this.#source.watch(this.#sinkFor(this.#source));
      this.#reading = true;
      const parts = await this.#readFirst();
      // stop() may have run during the read (TypeScript's narrowing does not see across the await).
      if ((this.#state as State) === 'stopped') throw new ClosedError('the network monitor was stopped while starting');
      this.#last = makeSnapshot(parts, this.#opts.ignoreInterface);
      this.#state = 'running';
      this.#opts.logger.debug('netmon-started', { snapshot: this.#last });
    } catch (err) {
      if (signal?.aborted) {
        await this.stop();
        throw abortReason(signal);
      }
      if (this.#state === 'stopped') throw new ClosedError('the network monitor was stopped while starting');
      await this.stop(); // a monitor that cannot read the network at all holds nothing
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#reading = false;
    }
    if (this.#again) void this.#flush();
  }

  async #readFirst(): Promise<SnapshotParts> {
    for (;;) {
      const source = this.#source;
      try {
        return await source.read(this.#ac.signal);
      } catch (err) {
        if (this.#ac.signal.aborted || !this.#readFailed(source, err)) throw err;
      }
    }
  }

  /** See NetworkMonitor.stop. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#state = 'stopped';
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#ac.abort(new ClosedError('the network monitor was stopped'));
    try {
      await this.#source.close();
    } catch (err) {
      this.#opts.logger.warn('netmon-close-failed', { error: err });
    }
  }

  /** See NetworkMonitor.snapshot. */
  snapshot(): NetworkSnapshot {
    if (!this.#last) throw new NetMonitorNotStartedError();
    return this.#last;
  }

  /** Events of a source that has been replaced are ignored (it is closing). */
  #sinkFor(source: MonitorSource): SourceSink {
    return {
      changed: () => {
        if (source === this.#source) this.#changed();
      },
      broken: (err) => {
        if (source === this.#source) this.#fallBack(err);
      },
    };
  }

  /** A raw event: open the window, or push its end back, never past `maxDelayMs` from its start. */
  #changed(): void {
    if (this.#state !== 'starting' && this.#state !== 'running') return;
    const { clock, debounceMs, maxDelayMs } = this.#opts;
    const now = clock.monotonic();
    this.#windowStart ??= now;
    this.#timer?.cancel();
    const due = Math.min(now + debounceMs, this.#windowStart + maxDelayMs);
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      this.#windowStart = undefined;
      void this.#flush();
    }, due - now);
  }

  async #flush(): Promise<void> {
    if (this.#reading) {
      this.#again = true;
      return;
    }
    this.#again = false;
    this.#reading = true;
    const source = this.#source;
    try {
      const parts = await source.read(this.#ac.signal);
      if (this.#state !== 'running' || source !== this.#source) return;
      this.#readFailures = 0;
      this.#apply(parts);
    } catch (err) {
      // Read again after one more quiet window: a source that can recover (or was replaced), or a
      // last source that failed fewer than READ_FAILURES_BEFORE_FALLBACK times in a row (a polling
      // source saw the change and will not report it again).
      if (
        this.#state === 'running' &&
        (this.#readFailed(source, err) || this.#readFailures < READ_FAILURES_BEFORE_FALLBACK)
      ) {
        this.#changed();
      }
    } finally {
      this.#reading = false;
    }
    if (this.#again && this.#state === 'running') void this.#flush();
  }

  #apply(parts: SnapshotParts): void {
    const next = makeSnapshot(parts, this.#opts.ignoreInterface);
    const change = diffSnapshots(this.#last!, next);
    if (!change) return;
    this.#last = next;
    this.#opts.logger.info('netmon-change', {
      added: change.addressesAdded.map((a) => `${a.dev}:${a.address}`),
      removed: change.addressesRemoved.map((a) => `${a.dev}:${a.address}`),
      defaultRouteChanged: change.defaultRouteChanged,
      online: change.online,
    });
    this.#emit('change', change);
  }

  /**
   * Counts a failed read. True when reading again makes sense: the source may recover, or it was
   * replaced by the fallback; false when there is nothing left to try.
   */
  #readFailed(source: MonitorSource, err: unknown): boolean {
    if (source !== this.#source) return true;
    const error = toError(err);
    this.#readFailures++;
    if (!this.#fallback || this.#fellBack) {
      this.#opts.logger.warn('netmon-read-failed', { error });
      return false;
    }
    if (hasCode(error, NetMonitorErrorCodes.UNAVAILABLE)) {
      this.#fallBack(error as NetMonitorError);
    } else if (this.#readFailures >= READ_FAILURES_BEFORE_FALLBACK) {
      const message = `reading the network state failed ${this.#readFailures} times in a row: ${error.message}`;
      this.#fallBack(new NetMonitorFailedError(message, { cause: error }));
    } else {
      this.#opts.logger.warn('netmon-read-failed', { error, failures: this.#readFailures });
    }
    return true;
  }

  #fallBack(err: NetMonitorError): void {
    if (this.#state !== 'starting' && this.#state !== 'running') return;
    if (!this.#fallback || this.#fellBack) {
      this.#opts.logger.error('netmon-source-broken', { error: err });
      return;
    }
    this.#fellBack = true;
    const broken = this.#source;
    this.#source = this.#fallback();
    this.#readFailures = 0;
    this.#opts.logger.warn('netmon-fallback', { error: err });
    broken.close().catch((e: unknown) => this.#opts.logger.warn('netmon-close-failed', { error: e }));
    this.#source.watch(this.#sinkFor(this.#source));
    this.#emit('error', err);
    // Whatever happened while the broken source was blind.
    if (this.#state === 'running') this.#changed();
  }

  /** A throwing listener is the application's bug; it must not break the monitor. */
  #emit<E extends keyof NetworkMonitorEvents>(event: E, ...args: Parameters<NetworkMonitorEvents[E]>): void {
    if (this.#state === 'stopped') return;
    try {
      (this.#emitter.emit as (e: E, ...a: Parameters<NetworkMonitorEvents[E]>) => boolean).call(
        this.#emitter,
        event,
        ...args,
      );
    } catch (err) {
      this.#opts.logger.error('netmon-listener-error', { event, error: err });
    }
  }
}

/**
 * A NetworkMonitor whose methods are one MonitorEngine's: the implementations differ only in the
 * source they hand it (and the fallback), so they share these three methods.
 */
export abstract class EngineMonitor extends TypedEmitter<NetworkMonitorEvents> implements NetworkMonitor {
  #engine: MonitorEngine | undefined;

  /** Called once from the subclass constructor, after `super()`. */
  protected useEngine(engine: MonitorEngine): void {
    this.#engine = engine;
  }

  /** Starts watching; resolves once the first snapshot is read. Idempotent; rejects `ERR_CLOSED` after `stop()`. */
  start(options?: NetworkMonitorStartOptions): Promise<void> {
    return this.#engine!.start(options);
  }

  /** Stops watching (a child process: SIGTERM, SIGKILL after 1 s) and every timer. Idempotent; nothing is emitted afterwards. */
  stop(): Promise<void> {
    return this.#engine!.stop();
  }

  /** The state as of the last `change` (or of `start()`); throws `ERR_NETMON_NOT_STARTED` before that. */
  snapshot(): NetworkSnapshot {
    return this.#engine!.snapshot();
  }
}
