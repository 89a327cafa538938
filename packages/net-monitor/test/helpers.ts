import { EventEmitter } from 'node:events';
import { isIPv4 } from 'node:net';
import { PassThrough } from 'node:stream';
import { type Clock, type FakeClock, TypedEmitter } from '@mesh/core';
import { engineOptions, MonitorEngine, type MonitorSource, type SourceSink } from '../src/engine.js';
import type { NetMonitorError } from '../src/errors.js';
import type { ChildLike, SpawnFn } from '../src/ip-process.js';
import type { SnapshotParts } from '../src/snapshot.js';
import type {
  DefaultRoute,
  LocalAddress,
  NetworkChange,
  NetworkMonitorEvents,
  NetworkMonitorOptions,
} from '../src/types.js';

export const addr = (address: string, dev = 'eth0', prefixLength = isIPv4(address) ? 24 : 64): LocalAddress => ({
  address,
  family: isIPv4(address) ? 'ipv4' : 'ipv6',
  prefixLength,
  dev,
});

export const route = (dev: string, gateway?: string, metric = 0): DefaultRoute => ({
  family: gateway?.includes(':') ? 'ipv6' : 'ipv4',
  dev,
  metric,
  ...(gateway ? { gateway } : {}),
});

/** A source the test drives: `raw()` is a kernel event, `parts` is what the next read returns. */
export class FakeSource implements MonitorSource {
  parts: SnapshotParts;
  reads = 0;
  closed = false;
  /** Errors the next reads reject with, in order. */
  failures: Error[] = [];
  sink?: SourceSink;

  constructor(parts: SnapshotParts = { addresses: [addr('192.0.2.2')], defaultRoutes: [route('eth0', '192.0.2.1')] }) {
    this.parts = parts;
  }
  watch(sink: SourceSink): void {
    this.sink = sink;
  }
  async read(): Promise<SnapshotParts> {
    this.reads++;
    const failure = this.failures.shift();
    if (failure) throw failure;
    return structuredClone(this.parts);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  raw(): void {
    this.sink?.changed();
  }
}

/** The engine behind a plain emitter, as LinuxNetworkMonitor and PollingNetworkMonitor wire it. */
export function monitorWith(
  primary: MonitorSource,
  options: NetworkMonitorOptions & { clock: Clock; fallback?: () => MonitorSource },
) {
  const emitter = new TypedEmitter<NetworkMonitorEvents>();
  const engine = new MonitorEngine(emitter, primary, options.fallback, engineOptions(options));
  const changes: { at: number; change: NetworkChange }[] = [];
  const errors: NetMonitorError[] = [];
  emitter.on('change', (change) => changes.push({ at: options.clock.monotonic(), change }));
  emitter.on('error', (err) => errors.push(err));
  return { emitter, engine, changes, errors };
}

/** A child process that exits when told (or killed); nothing runs. */
export class FakeChild extends EventEmitter implements ChildLike {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly signals: string[] = [];
  exited = false;

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.signals.push(signal);
    this.exit(null, signal);
    return true;
  }
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    if (this.exited) return;
    this.exited = true;
    this.stdout.end();
    this.stderr.end();
    setImmediate(() => this.emit('close', code, signal));
  }
  fail(err: Error): void {
    this.exited = true;
    setImmediate(() => this.emit('error', err));
  }
}

/**
 * A fake `ip`: `monitor` children stay up until the test ends them; snapshot commands print the
 * JSON `ip` would for `state` and exit 0.
 */
export class FakeIp {
  state = { addresses: [addr('192.0.2.2')], routes: [route('eth0', '192.0.2.1')] };
  readonly monitors: { child: FakeChild; at: number }[] = [];
  snapshots = 0;
  /** When set, every spawn fails like this (ENOENT: no `ip`). */
  spawnError?: NodeJS.ErrnoException;

  constructor(readonly clock: FakeClock) {}

  readonly spawn: SpawnFn = (_command, args) => {
    const child = new FakeChild();
    if (this.spawnError) {
      child.fail(this.spawnError);
      return child;
    }
    if (args[0] === 'monitor') {
      this.monitors.push({ child, at: this.clock.monotonic() });
      return child;
    }
    this.snapshots++;
    const text = args.includes('address') ? this.#addressJson() : this.#routeJson(args.includes('-6') ? 6 : 4);
    setImmediate(() => {
      child.stdout.write(text);
      child.exit(0);
    });
    return child;
  };

  get monitor(): FakeChild | undefined {
    return this.monitors.at(-1)?.child;
  }

  #addressJson(): string {
    const devs = [...new Set(this.state.addresses.map((a) => a.dev))];
    return JSON.stringify([
      { ifname: 'lo', flags: ['LOOPBACK', 'UP'], operstate: 'UNKNOWN', addr_info: [] },
      ...devs.map((dev) => ({
        ifname: dev,
        flags: ['BROADCAST', 'UP', 'LOWER_UP'],
        operstate: 'UP',
        addr_info: this.state.addresses
          .filter((a) => a.dev === dev)
          .map((a) => ({
            family: a.family === 'ipv4' ? 'inet' : 'inet6',
            local: a.address,
            prefixlen: a.prefixLength,
            scope: 'global',
          })),
      })),
    ]);
  }

  #routeJson(family: 4 | 6): string {
    return JSON.stringify(
      this.state.routes
        .filter((r) => (r.family === 'ipv4') === (family === 4))
        .map((r) => ({ dst: 'default', gateway: r.gateway, dev: r.dev, metric: r.metric, flags: [] })),
    );
  }
}
