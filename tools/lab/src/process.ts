import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import {
  abortReason,
  type Clock,
  type Logger,
  Subscriptions,
  silentLogger,
  systemClock,
  TypedEmitter,
} from '@mesh/core';
import { LabError, LabErrorCodes } from './errors.js';

export interface LabProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LabProcessEvents {
  /** One stdout line (without the newline). */
  line: [line: string];
  /** One stderr line. */
  stderr: [line: string];
  exit: [exit: LabProcessExit];
}

export interface SpawnOptions {
  /** Label for logs and errors; defaults to the program name. */
  name?: string;
  /** Added to the lab process's environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Lines kept per stream (oldest dropped first). Default 10 000. */
  maxLines?: number;
}

export interface WaitForLineOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Only lines with an index ≥ this count (default 0: lines already seen count too, so no race). */
  after?: number;
  /** Search stderr instead of stdout. */
  stream?: 'stdout' | 'stderr';
}

export type LinePredicate = RegExp | ((line: string) => boolean);

/** The argv a LabProcess really runs (its own session, so signals reach the whole process group). */
export function netnsArgv(ns: string, argv: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

/**
 * A process running in a lab namespace with its output captured line by line. `ip netns exec`
 * execs the command, so `pid` is the command itself; it leads its own process group and signals go
 * to the whole group (children included).
 */
export class LabProcess extends TypedEmitter<LabProcessEvents> {
  readonly name: string;
  readonly ns: string;
  readonly argv: readonly string[];
  readonly options: SpawnOptions;
  readonly pid: number;
  /** stdout lines seen so far (up to maxLines; `linesDropped` counts the ones dropped). */
  readonly lines: string[] = [];
  readonly stderrLines: string[] = [];
  linesDropped = 0;
  /** Resolves when the process has exited and its output is drained; never rejects. */
  readonly exited: Promise<LabProcessExit>;
  #exit: LabProcessExit | undefined;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #maxLines: number;
  #stopping: Promise<LabProcessExit> | undefined;

  constructor(
    ns: string,
    argv: readonly string[],
    options: SpawnOptions = {},
    deps: { clock?: Clock; logger?: Logger } = {},
  ) {
    super();
    if (argv.length === 0) throw new LabError(LabErrorCodes.INVALID, 'spawn needs a command');
    this.ns = ns;
    this.argv = [...argv];
    this.options = options;
    this.name = options.name ?? argv[0]!.split('/').pop()!;
    this.#clock = deps.clock ?? systemClock;
    this.#log = (deps.logger ?? silentLogger).child({ proc: this.name, ns });
    this.#maxLines = options.maxLines ?? 10_000;
    const [file, ...args] = netnsArgv(ns, argv);
    this.#child = spawn(file!, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
    });
    // spawn() failures (ENOENT on `ip`) surface as 'error' with no pid.
    this.pid = this.#child.pid ?? -1;
    this.#child.stdin.on('error', () => {}); // writes after exit are dropped, not crashes
    const outDone = this.#pipeLines(this.#child.stdout, this.lines, 'line');
    const errDone = this.#pipeLines(this.#child.stderr, this.stderrLines, 'stderr');
    const exit = new Promise<LabProcessExit>((resolve) => {
      this.#child.on('error', () => resolve({ code: null, signal: null }));
      this.#child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    this.exited = exit.then(async (e) => {
      // Drain the output, but a grandchild holding the pipes open must not keep us waiting.
      let timer: { cancel(): void } | undefined;
      await Promise.race([
        Promise.all([outDone, errDone]),
        new Promise<void>((r) => {
          timer = this.#clock.setTimeout(r, 1_000);
        }),
      ]);
      timer?.cancel();
      this.#exit = e;
      this.#log.debug('lab-process-exit', { ...e });
      this.emit('exit', e);
      return e;
    });
    this.#log.debug('lab-process-start', { pid: this.pid, argv: this.argv });
  }

  /** The exit status once the process has exited, else undefined. */
  get exitStatus(): LabProcessExit | undefined {
    return this.#exit;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  #pipeLines(stream: NodeJS.ReadableStream, store: string[], event: 'line' | 'stderr'): Promise<void> {
    const rl = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
    rl.on('line', (line) => {
      store.push(line);
      if (store.length > this.#maxLines) {
        store.shift();
        if (event === 'line') this.linesDropped++;
      }
      this.emit(event, line);
    });
    return new Promise((resolve) => rl.once('close', () => resolve()));
  }

  /**
   * Resolves with the first stdout line matching `pred` (lines already seen count unless `after`).
   * Rejects with ERR_LAB_PROCESS_EXITED if the process exits first, ERR_LAB_TIMEOUT after
   * `timeoutMs` (default 10 000).
   */
  waitForLine(pred: LinePredicate, options: WaitForLineOptions = {}): Promise<string> {
    const { timeoutMs = 10_000, signal, after = 0, stream = 'stdout' } = options;
    const test = typeof pred === 'function' ? pred : (l: string) => pred.test(l);
    const store = stream === 'stdout' ? this.lines : this.stderrLines;
    const event = stream === 'stdout' ? 'line' : 'stderr';
    const offset = stream === 'stdout' ? this.linesDropped : 0;
    for (let i = Math.max(0, after - offset); i < store.length; i++) {
      if (test(store[i]!)) return Promise.resolve(store[i]!);
    }
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.#exit) return Promise.reject(this.#exitedError(String(pred)));
    return new Promise((resolve, reject) => {
      const subs = new Subscriptions();
      const cleanup = () => {
        subs.clear();
        signal?.removeEventListener('abort', onAbort);
        timer.cancel();
      };
      const onLine = (line: string) => {
        if (!test(line)) return;
        cleanup();
        resolve(line);
      };
      const onExit = () => {
        cleanup();
        reject(this.#exitedError(String(pred)));
      };
      const onAbort = () => {
        cleanup();
        reject(abortReason(signal!));
      };
      const timer = this.#clock.setTimeout(() => {
        cleanup();
        reject(
          new LabError(
            LabErrorCodes.TIMEOUT,
            `${this.name} in ${this.ns}: no line matching ${String(pred)} within ${timeoutMs} ms`,
            {
              command: this.argv,
              stdout: this.lines.slice(-20).join('\n'),
              stderr: this.stderrLines.slice(-20).join('\n'),
            },
          ),
        );
      }, timeoutMs);
      subs.on(this, event, onLine).on(this, 'exit', onExit);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #exitedError(what: string): LabError {
    const e = this.#exit;
    return new LabError(
      LabErrorCodes.PROCESS_EXITED,
      `${this.name} in ${this.ns} exited (code ${e?.code}, signal ${e?.signal}) before ${what}`,
      {
        command: this.argv,
        exitCode: e?.code,
        signal: e?.signal,
        stdout: this.lines.slice(-20).join('\n'),
        stderr: this.stderrLines.slice(-40).join('\n'),
      },
    );
  }

  /** Writes `obj` as one JSON line on stdin. Returns false when the process is gone. */
  send(obj: unknown): boolean {
    if (!this.running || this.#child.stdin.destroyed) return false;
    this.#child.stdin.write(`${JSON.stringify(obj)}\n`);
    return true;
  }

  /** Signals the whole process group; false if it has already exited. */
  kill(sig: NodeJS.Signals = 'SIGKILL'): boolean {
    if (!this.running || this.pid <= 0) return false;
    try {
      process.kill(-this.pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGSTOP: freezes the process (timers stop; its sockets keep their state). */
  pause(): boolean {
    return this.kill('SIGSTOP');
  }

  resume(): boolean {
    return this.kill('SIGCONT');
  }

  /** SIGTERM (after SIGCONT, so a paused process can act on it), SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs = 2_000): Promise<LabProcessExit> {
    if (this.#stopping) return this.#stopping;
    this.#stopping = (async () => {
      if (this.running) {
        this.kill('SIGCONT');
        this.kill('SIGTERM');
        const timer = this.#clock.setTimeout(() => this.kill('SIGKILL'), graceMs);
        try {
          return await this.exited;
        } finally {
          timer.cancel();
        }
      }
      return this.exited;
    })();
    return this.#stopping;
  }
}
