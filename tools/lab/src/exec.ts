import { spawn, spawnSync } from 'node:child_process';
import { abortReason, type Clock, systemClock } from '@mesh/core';
import { LabError, LabErrorCodes } from './errors.js';

export interface ExecResult {
  /** Exit code; null when the command was ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Kill the command (SIGKILL) and reject with ERR_LAB_TIMEOUT after this many ms. Default 15 000. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Bytes written to stdin, which is then closed. */
  input?: string;
  clock?: Clock;
}

const DEFAULT_TIMEOUT_MS = 15_000;

/** Runs argv to completion and returns its output; rejects only on timeout, abort or spawn failure. */
export function runCommand(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const { timeoutMs = DEFAULT_TIMEOUT_MS, signal, input, clock = systemClock } = options;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new LabError(LabErrorCodes.INVALID, 'empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {}); // the command may exit without reading its input
    child.stdin.end(input ?? '');
    let failure: Error | undefined;
    const finish = () => {
      timer.cancel();
      signal?.removeEventListener('abort', onAbort);
    };
    const timer = clock.setTimeout(() => {
      failure = new LabError(LabErrorCodes.TIMEOUT, `command timed out after ${timeoutMs} ms: ${argv.join(' ')}`, {
        command: argv,
        stderr: Buffer.concat(err).toString(),
      });
      child.kill('SIGKILL');
    }, timeoutMs);
    const onAbort = () => {
      failure = abortReason(signal!);
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      finish();
      reject(
        new LabError(LabErrorCodes.COMMAND_FAILED, `cannot run ${file}: ${e.message}`, { command: argv, cause: e }),
      );
    });
    child.on('close', (code, sig) => {
      finish();
      if (failure) return reject(failure);
      resolve({ code, signal: sig, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

/** Like runCommand but a non-zero exit is a LabError (ERR_LAB_COMMAND_FAILED) carrying the output. */
export async function runCommandOk(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const r = await runCommand(argv, options);
  if (r.code !== 0) throw commandFailed(argv, r);
  return r;
}

export function commandFailed(argv: readonly string[], r: ExecResult): LabError {
  const how = r.code === null ? `signal ${r.signal}` : `exit code ${r.code}`;
  return new LabError(LabErrorCodes.COMMAND_FAILED, `command failed (${how}): ${argv.join(' ')}`, {
    command: argv,
    exitCode: r.code,
    signal: r.signal,
    stdout: r.stdout,
    stderr: r.stderr,
  });
}

/** Synchronous best-effort run for process-exit teardown (no event loop left there); never throws. */
export function runCommandSync(argv: readonly string[], timeoutMs = 5_000): ExecResult {
  const [file, ...args] = argv;
  const r = spawnSync(file ?? 'true', args, { timeout: timeoutMs, encoding: 'utf8' });
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
