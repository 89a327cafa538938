import { Backoff, type Clock, hasCode, InvalidArgumentError, type Logger, type Timer, withDeadline } from '@mesh/core';
import { DEFAULTS, IP_MONITOR_ARGS, IP_SNAPSHOT_COMMANDS, RESTART } from './constants.js';
import { EngineMonitor, engineOptions, MonitorEngine, type MonitorSource, type SourceSink } from './engine.js';
import { NetMonitorErrorCodes, NetMonitorFailedError, type NetMonitorUnavailableError } from './errors.js';
import { parseIpAddresses, parseIpRoutes } from './ip-json.js';
import { type ChildLike, resolveIp, runIp, type SpawnFn, spawnFailure, spawnProcess, tail } from './ip-process.js';
import { PollingNetworkMonitor, PollingSource, pollInterval } from './polling.js';
import type { SnapshotParts } from './snapshot.js';
import type { LinuxNetworkMonitorOptions, NetworkMonitor } from './types.js';

/** What IpMonitorSource needs. */
export interface IpMonitorSourceOptions {
  ipPath: string;
  clock: Clock;
  logger: Logger;
  spawn?: SpawnFn;
  /** Uniform [0,1) numbers for the restart jitter. */
  random?: () => number;
  commandTimeoutMs?: number;
}

/**
 * One long-lived `ip monitor address link route` as the trigger (any line: something changed),
 * snapshots from `ip -json`. A monitor that exits is restarted on a ladder; one that keeps exiting,
 * or an `ip` that cannot run at all, breaks the source (the engine then polls).
 */
export class IpMonitorSource implements MonitorSource {
  readonly #ip: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #spawn: SpawnFn;
  readonly #commandTimeoutMs: number;
  readonly #backoff: Backoff;
  #sink?: SourceSink;
  #child?: ChildLike;
  #restartTimer?: Timer;
  #exits = 0;
  #closing?: Promise<void>;

  constructor(options: IpMonitorSourceOptions) {
    this.#ip = options.ipPath;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#spawn = options.spawn ?? spawnProcess;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs;
    this.#backoff = new Backoff({
      initial: RESTART.initialMs,
      max: RESTART.maxMs,
      jitter: RESTART.jitter,
      ...(options.random ? { random: options.random } : {}),
    });
  }

  watch(sink: SourceSink): void {
    this.#sink = sink;
    this.#startMonitor();
  }

  #startMonitor(): void {
    if (this.#closing) return;
    const startedAt = this.#clock.monotonic();
    let child: ChildLike;
    try {
      child = this.#spawn(this.#ip, IP_MONITOR_ARGS);
    } catch (err) {
      this.#exited(startedAt, spawnFailure(this.#ip, err as Error), '');
      return;
    }
    this.#child = child;
    const stderr = tail(child.stderr);
    let done = false;
    const exited = (how: Error | string) => {
      if (done) return;
      done = true;
      if (this.#child === child) this.#child = undefined;
      this.#exited(startedAt, how, stderr());
    };
    child.stdout?.on('data', () => this.#sink?.changed());
    child.on('error', (err) => exited(spawnFailure(this.#ip, err)));
    child.on('close', (code, signal) => exited(signal ? `killed by ${signal}` : `exit code ${code}`));
    // Like the clock's timers: a monitor the application forgot to stop does not keep it alive.
    setRef(child, false);
  }

  #exited(startedAt: number, how: Error | string, stderr: string): void {
    if (this.#closing) return;
    if (how instanceof Error && hasCode(how, NetMonitorErrorCodes.UNAVAILABLE)) {
      this.#sink?.broken(how as NetMonitorUnavailableError);
      return;
    }
    if (this.#clock.monotonic() - startedAt >= RESTART.stableMs) {
      this.#exits = 0;
      this.#backoff.reset();
    }
    this.#exits++;
    const why = `${how instanceof Error ? how.message : how}${stderr ? ` (${stderr})` : ''}`;
    if (this.#exits > RESTART.maxRestarts) {
      const message = `ip monitor exited ${this.#exits} times in a row, last: ${why}; polling instead`;
      this.#sink?.broken(new NetMonitorFailedError(message, how instanceof Error ? { cause: how } : undefined));
      return;
    }
    const delayMs = this.#backoff.next();
    this.#log.warn('netmon-ip-monitor-exited', { why, exits: this.#exits, restartInMs: delayMs });
    this.#restartTimer = this.#clock.setTimeout(() => {
      this.#restartTimer = undefined;
      this.#startMonitor();
      this.#sink?.changed(); // whatever happened while nothing was watching
    }, delayMs);
  }

  async read(signal: AbortSignal): Promise<SnapshotParts> {
    const run = (s: AbortSignal, args: readonly string[]) => runIp(this.#spawn, this.#ip, args, s);
    const [addresses, ipv4, ipv6] = await withDeadline(
      this.#commandTimeoutMs,
      (s) =>
        Promise.all([
          run(s, IP_SNAPSHOT_COMMANDS.addresses),
          run(s, IP_SNAPSHOT_COMMANDS.ipv4Routes),
          run(s, IP_SNAPSHOT_COMMANDS.ipv6Routes),
        ]),
      { signal, clock: this.#clock, what: `${this.#ip} snapshot` },
    );
    return {
      addresses: parseIpAddresses(addresses),
      defaultRoutes: [...parseIpRoutes(ipv4, 'ipv4'), ...parseIpRoutes(ipv6, 'ipv6')],
    };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#restartTimer?.cancel();
    const child = this.#child;
    this.#child = undefined;
    if (!child) return;
    setRef(child, true); // `await stop()` as a script's last step must see the exit before Node does
    await new Promise<void>((resolve) => {
      const killTimer = this.#clock.setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, DEFAULTS.killGraceMs);
      const done = () => {
        killTimer.cancel();
        resolve();
      };
      child.on('close', done);
      child.on('error', done);
      child.kill('SIGTERM');
    });
  }
}

/** Whether the child (and its pipes) keep the event loop alive. */
function setRef(child: ChildLike, ref: boolean): void {
  if (ref) child.ref?.();
  else child.unref?.();
  for (const s of [child.stdout, child.stderr] as unknown as ({ ref?(): void; unref?(): void } | null)[]) {
    if (ref) s?.ref?.();
    else s?.unref?.();
  }
}

/**
 * The Linux NetworkMonitor: a kernel event (`ip monitor`) is seen at once, then debounced; the
 * state is read with `ip -json`. Costs nothing while the network is quiet. When `ip` is missing or
 * keeps failing it emits one `error` and polls like PollingNetworkMonitor.
 */
export class LinuxNetworkMonitor extends EngineMonitor {
  constructor(options: LinuxNetworkMonitorOptions = {}) {
    super();
    const opts = engineOptions(options);
    const intervalMs = pollInterval(options);
    const { ipPath = DEFAULTS.ipPath } = options;
    if (typeof ipPath !== 'string' || ipPath === '')
      throw new InvalidArgumentError('ipPath must be a non-empty string');
    const { clock, logger } = opts;
    this.useEngine(
      new MonitorEngine(
        this,
        new IpMonitorSource({ ipPath: resolveIp(ipPath) ?? ipPath, clock, logger }),
        () => new PollingSource({ clock, logger, intervalMs }),
        opts,
      ),
    );
  }
}

/**
 * The best monitor for this host: LinuxNetworkMonitor on Linux with iproute2's `ip`, else
 * PollingNetworkMonitor (which reads /proc where there is one, addresses alone elsewhere).
 */
export function createNetworkMonitor(options: LinuxNetworkMonitorOptions = {}): NetworkMonitor {
  if (process.platform === 'linux' && resolveIp(options.ipPath ?? DEFAULTS.ipPath)) {
    return new LinuxNetworkMonitor(options);
  }
  return new PollingNetworkMonitor(options);
}
