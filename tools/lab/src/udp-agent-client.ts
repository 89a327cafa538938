import { abortReason, type Clock, Subscriptions, systemClock } from '@mesh/core';
import { LabError, LabErrorCodes } from './errors.js';
import type { LabProcess } from './process.js';

export interface UdpAgentOptions {
  /** Local port (0 = ephemeral). */
  port?: number;
  bind?: string;
  /** Send every received datagram back to its sender. */
  echo?: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface Datagram {
  from: string;
  port: number;
  data: string;
}

interface AgentEvent {
  ev?: string;
  port?: number;
  from?: string;
  data?: string;
  address?: string;
  message?: string;
}

function parseEvent(line: string): AgentEvent | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null ? (v as AgentEvent) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A UDP socket inside a lab namespace (dist/udp-agent.js), driven from the test process. Received
 * datagrams queue up from the moment the agent is ready; `receive()` takes them out in order.
 */
export class UdpAgent {
  readonly process: LabProcess;
  /** The bound local port. */
  readonly port: number;
  readonly #queue: Datagram[] = [];
  readonly #clock: Clock;

  private constructor(proc: LabProcess, port: number, clock: Clock) {
    this.process = proc;
    this.port = port;
    this.#clock = clock;
    // Datagrams that arrived before this object existed are already in proc.lines; take them, then follow.
    for (const l of proc.lines) this.#onLine(l);
    proc.on('line', (l) => this.#onLine(l));
  }

  static async ready(proc: LabProcess, options: UdpAgentOptions = {}, clock: Clock = systemClock): Promise<UdpAgent> {
    try {
      const line = await proc.waitForLine((l) => parseEvent(l)?.ev === 'ready', {
        timeoutMs: options.timeoutMs ?? 10_000,
        signal: options.signal,
      });
      return new UdpAgent(proc, parseEvent(line)!.port!, clock);
    } catch (e) {
      await proc.stop();
      throw e;
    }
  }

  #onLine(line: string): void {
    const e = parseEvent(line);
    if (e?.ev === 'recv') this.#queue.push({ from: e.from ?? '', port: e.port ?? 0, data: e.data ?? '' });
  }

  /** Datagrams received and not yet taken by `receive()`. */
  get pending(): readonly Datagram[] {
    return this.#queue;
  }

  send(host: string, port: number, data: string): void {
    if (!this.process.send({ op: 'send', host, port, data })) {
      throw new LabError(LabErrorCodes.PROCESS_EXITED, `udp agent in ${this.process.ns} has exited`);
    }
  }

  /** Takes the oldest queued datagram that passes `filter`, waiting for one if needed (default 10 s). */
  receive(
    filter: (d: Datagram) => boolean = () => true,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<Datagram> {
    const take = (): Datagram | undefined => {
      const i = this.#queue.findIndex(filter);
      return i < 0 ? undefined : this.#queue.splice(i, 1)[0];
    };
    const now = take();
    if (now) return Promise.resolve(now);
    const { timeoutMs = 10_000, signal } = options;
    const proc = this.process;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const subs = new Subscriptions();
      const cleanup = () => {
        subs.clear();
        signal?.removeEventListener('abort', onAbort);
        timer.cancel();
      };
      const onLine = () => {
        const d = take(); // our own 'line' listener (registered first) has queued it already
        if (!d) return;
        cleanup();
        resolve(d);
      };
      const fail = (e: Error) => {
        cleanup();
        reject(e);
      };
      const onExit = () =>
        fail(new LabError(LabErrorCodes.PROCESS_EXITED, `udp agent in ${proc.ns} exited while receiving`));
      const onAbort = () => fail(abortReason(signal!));
      const timer = this.#clock.setTimeout(
        () =>
          fail(
            new LabError(LabErrorCodes.TIMEOUT, `udp agent in ${proc.ns}: no matching datagram within ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      subs.on(proc, 'line', onLine).on(proc, 'exit', onExit);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (!proc.running) onExit();
    });
  }

  /** Sends a STUN Binding Request to host:port and resolves with the mapped address it reports. */
  async stun(
    host: string,
    port: number,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<{ address: string; port: number }> {
    const after = this.process.lines.length + this.process.linesDropped;
    this.process.send({ op: 'stun', host, port });
    const line = await this.process.waitForLine((l) => parseEvent(l)?.ev === 'stun', {
      timeoutMs: options.timeoutMs ?? 5_000,
      signal: options.signal,
      after,
    });
    const e = parseEvent(line)!;
    return { address: e.address!, port: e.port! };
  }

  stop(): Promise<unknown> {
    return this.process.stop();
  }
}
