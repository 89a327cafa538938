import { spawn as nodeSpawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';
import { abortReason } from '@mesh/core';
import { NetMonitorReadError, NetMonitorUnavailableError } from './errors.js';

/** The part of a ChildProcess the monitor uses (tests pass fakes). */
export interface ChildLike {
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  kill(signal?: NodeJS.Signals): boolean;
  ref?(): void;
  unref?(): void;
  on(event: 'error', fn: (err: Error) => void): unknown;
  on(event: 'close', fn: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
}

/** Starts `command args` with stdin closed and stdout/stderr piped. */
export type SpawnFn = (command: string, args: readonly string[]) => ChildLike;

/** The real one. */
export const spawnProcess: SpawnFn = (command, args) => nodeSpawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });

/** A spawn failure that retrying will not fix: the tool is not there or may not be run. */
export function spawnFailure(ip: string, err: Error): Error {
  const code = (err as { code?: unknown }).code;
  if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR' || code === 'EPERM') {
    return new NetMonitorUnavailableError(`cannot run ${ip} (${String(code)}): is iproute2 installed?`, {
      cause: err,
    });
  }
  return new NetMonitorReadError(`running ${ip} failed: ${err.message}`, { cause: err });
}

/** Keeps the last `max` characters of a stream (stderr for error messages). */
export function tail(stream: Readable | null, max = 500): () => string {
  let text = '';
  stream?.on('data', (chunk: Buffer | string) => {
    text = (text + chunk.toString()).slice(-max);
  });
  return () => text.trim();
}

/** Runs `ip args` to completion: its stdout, or a NetMonitorError; killed when `signal` aborts. */
export function runIp(spawn: SpawnFn, ip: string, args: readonly string[], signal: AbortSignal): Promise<string> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    let child: ChildLike;
    try {
      child = spawn(ip, args);
    } catch (err) {
      reject(spawnFailure(ip, err as Error));
      return;
    }
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
    const stderr = tail(child.stderr);
    const onAbort = () => child.kill('SIGKILL');
    signal.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      fn();
    };
    child.on('error', (err) => settle(() => reject(spawnFailure(ip, err))));
    child.on('close', (code, sig) =>
      settle(() => {
        if (signal.aborted) reject(abortReason(signal));
        else if (code === 0) resolve(Buffer.concat(chunks).toString('utf8'));
        else reject(new NetMonitorReadError(`${ip} ${args.join(' ')}: ${sig ?? `exit code ${code}`} ${stderr()}`));
      }),
    );
  });
}

// Where iproute2 lives when PATH lacks it (Debian leaves /usr/sbin out of a user's PATH).
const SYSTEM_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/** The executable `ipPath` names (a path, or a name looked up on PATH and the system dirs); undefined when there is none. */
export function resolveIp(ipPath: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SYSTEM_DIRS];
  const candidates = ipPath.includes('/') ? [ipPath] : dirs.map((dir) => join(dir, ipPath));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}
