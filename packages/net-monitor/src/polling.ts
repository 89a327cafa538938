import { type Clock, InvalidArgumentError, type Logger, type Timer } from '@mesh/core';
import { DEFAULTS } from './constants.js';
import { EngineMonitor, engineOptions, MonitorEngine, type MonitorSource, type SourceSink } from './engine.js';
import { procParts, readProcInputs } from './proc.js';
import type { SnapshotParts } from './snapshot.js';
import type { PollingNetworkMonitorOptions } from './types.js';

/** Reads the whole state; the polling source calls it every tick. */
export type PartsReader = () => Promise<SnapshotParts>;

/** The default reader: os.networkInterfaces() and /proc/net (no process spawned). */
export const readProcParts: PartsReader = async () => procParts(await readProcInputs());

/** Validates `intervalMs` and fills in its default. */
export function pollInterval(options: PollingNetworkMonitorOptions): number {
  const { intervalMs = DEFAULTS.intervalMs } = options;
  if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) {
    throw new InvalidArgumentError(`intervalMs must be a finite number > 0, got ${intervalMs}`);
  }
  return intervalMs;
}

/**
 * Reads the state every `intervalMs` and reports a raw event when it differs from the previous
 * read (whoever made it: the engine's reads count too, so a change is reported once).
 */
export class PollingSource implements MonitorSource {
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #reader: PartsReader;
  #timer?: Timer;
  #previous?: string;
  #ticking = false;
  #closed = false;

  constructor(options: { clock: Clock; logger: Logger; intervalMs: number; reader?: PartsReader }) {
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#intervalMs = options.intervalMs;
    this.#reader = options.reader ?? readProcParts;
  }

  watch(sink: SourceSink): void {
    if (this.#closed) return;
    this.#timer = this.#clock.setInterval(() => void this.#tick(sink), this.#intervalMs);
  }

  async read(): Promise<SnapshotParts> {
    const parts = await this.#reader();
    this.#previous = JSON.stringify(parts);
    return parts;
  }

  async #tick(sink: SourceSink): Promise<void> {
    if (this.#ticking) return; // a slow read (loaded host) is not stacked
    this.#ticking = true;
    const before = this.#previous;
    try {
      await this.read();
      if (!this.#closed && this.#previous !== before) sink.changed();
    } catch (err) {
      this.#log.debug('netmon-poll-failed', { error: err });
    } finally {
      this.#ticking = false;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#timer?.cancel();
  }
}

/**
 * A NetworkMonitor that reads os.networkInterfaces() and /proc/net/{route,ipv6_route} every
 * `intervalMs` (2 s): no process, no privileges, any Linux; elsewhere (no /proc) `online` follows
 * the addresses alone. Changes are debounced like every monitor's.
 */
export class PollingNetworkMonitor extends EngineMonitor {
  constructor(options: PollingNetworkMonitorOptions = {}) {
    super();
    const opts = engineOptions(options);
    const source = new PollingSource({ clock: opts.clock, logger: opts.logger, intervalMs: pollInterval(options) });
    this.useEngine(new MonitorEngine(this, source, undefined, opts));
  }
}
