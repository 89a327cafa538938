import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { type Clock, systemClock, toError } from '@mesh/core';
import { ControlError } from './errors.js';
import type { AgentStatus } from './status.js';
import { claimSocketPath, probeSocket } from './unix-socket.js';

/**
 * Control protocol (unix socket, one JSON object per line, one request per connection):
 * `{"op":"status"}` → `{"ok":true,"status":AgentStatus}`; `{"op":"down"}` → `{"ok":true,"stopping":true,"pid"}`,
 * after which the agent stops as on SIGTERM; or `{"ok":false,"error":{"code","message"}}`.
 * Requests longer than 4 KiB are refused.
 */
export type ControlRequest = { op: 'status' } | { op: 'down' };
export type ControlReply =
  | { ok: true; status: AgentStatus }
  | { ok: true; stopping: true; pid: number }
  | { ok: false; error: { code: string; message: string } };

const MAX_REQUEST = 4096;

/** Where agents put their control sockets (`<dir>/<interface>.sock`), like /var/run/wireguard for wg. */
export const DEFAULT_RUN_DIR = '/var/run/mesh-agent';

/** The control-socket directory: `MESH_AGENT_RUN_DIR` when set, else DEFAULT_RUN_DIR. */
export function runDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MESH_AGENT_RUN_DIR || DEFAULT_RUN_DIR;
}

/** The default `control.socket` of the agent on interface `name`. */
export function defaultControlSocket(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(runDir(env), `${name}.sock`);
}

export interface ControlHandlers {
  status(): Promise<AgentStatus>;
  /** `down`: called once the reply is sent; the agent then stops as on SIGTERM. Absent → `down` is refused. */
  down?(): void;
}

/** Serves the control socket. The socket file is 0600 and removed again by `stop()`. */
export class ControlServer {
  readonly path: string;
  readonly #handlers: ControlHandlers;
  #server: Server | null = null;
  readonly #sockets = new Set<Socket>();

  constructor(path: string, handlers: ControlHandlers) {
    this.path = path;
    this.#handlers = handlers;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer((socket) => this.#serve(socket));
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
      // A live agent owns the socket: refuse; a dead one left its file behind: take it over.
      if (!(await claimSocketPath(this.path))) throw new Error('another agent is serving it');
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.path, () => resolve());
      });
      chmodSync(this.path, 0o600);
    } catch (err) {
      server.close();
      throw new ControlError(`cannot listen on ${this.path}: ${toError(err).message}`, { cause: err });
    }
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    let buf = '';
    socket.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0 && buf.length <= MAX_REQUEST) return;
      socket.removeAllListeners('data');
      const line = nl < 0 ? null : buf.slice(0, nl);
      void this.#answer(line).then((reply) => {
        const stopping = 'stopping' in reply;
        socket.end(`${JSON.stringify(reply)}\n`, () => {
          if (stopping) this.#handlers.down?.();
        });
      });
    });
  }

  async #answer(line: string | null): Promise<ControlReply> {
    const fail = (code: string, message: string): ControlReply => ({ ok: false, error: { code, message } });
    if (line === null) return fail('ERR_AGENT_CONTROL', `request longer than ${MAX_REQUEST} bytes`);
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      return fail('ERR_AGENT_CONTROL', 'request is not JSON');
    }
    const op = (req as { op?: unknown } | null)?.op;
    if (op === 'down') {
      if (!this.#handlers.down) return fail('ERR_AGENT_CONTROL', 'this agent cannot be stopped over its socket');
      return { ok: true, stopping: true, pid: process.pid };
    }
    if (op !== 'status') return fail('ERR_AGENT_CONTROL', `unknown op ${JSON.stringify(op)}`);
    try {
      return { ok: true, status: await this.#handlers.status() };
    } catch (err) {
      const e = toError(err);
      return fail((e as { code?: string }).code ?? 'ERR_AGENT_CONTROL', e.message);
    }
  }
}

interface RequestOptions {
  timeoutMs?: number;
  clock?: Clock;
}

/** Sends one request to the agent's control socket; resolves with its `ok` reply. */
function request(path: string, req: ControlRequest, options: RequestOptions): Promise<ControlReply & { ok: true }> {
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buf = '';
    const timer = (options.clock ?? systemClock).setTimeout(() => {
      socket.destroy();
      reject(new ControlError(`no answer from the agent at ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (err: Error | null, reply?: ControlReply & { ok: true }) => {
      timer.cancel();
      socket.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    socket.once('connect', () => socket.write(`${JSON.stringify(req)}\n`));
    socket.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.message;
      const hint = code === 'EACCES' || code === 'EPERM' ? 'permission denied (run as root?)' : 'is it running?';
      done(new ControlError(`cannot reach the agent at ${path} (${code}): ${hint}`, { cause: err }));
    });
    socket.once('end', () => {
      let reply: ControlReply;
      try {
        reply = JSON.parse(buf) as ControlReply;
      } catch {
        done(new ControlError(`the agent at ${path} sent a malformed reply`));
        return;
      }
      if (reply.ok) done(null, reply);
      else done(new ControlError(`the agent refused: ${reply.error.code}: ${reply.error.message}`));
    });
  });
}

/** Asks the agent for its status snapshot. */
export async function requestStatus(path: string, options: RequestOptions = {}): Promise<AgentStatus> {
  const reply = await request(path, { op: 'status' }, options);
  if (!('status' in reply)) throw new ControlError(`the agent at ${path} sent a malformed reply`);
  return reply.status;
}

/**
 * `mesh-agent down`: asks the agent to stop cleanly (as on SIGTERM), then waits until it is gone:
 * its socket no longer answers and, when it is another process, that process has exited.
 * Rejects with ERR_AGENT_CONTROL when it is still there after `waitMs` (default 10 s).
 */
export async function requestDown(
  path: string,
  options: RequestOptions & { waitMs?: number; pollMs?: number } = {},
): Promise<void> {
  const reply = await request(path, { op: 'down' }, options);
  const pid = 'pid' in reply && reply.pid !== process.pid ? reply.pid : null;
  const clock = options.clock ?? systemClock;
  const waitMs = options.waitMs ?? 10_000;
  const deadline = clock.monotonic() + waitMs;
  const present = async () => {
    const state = await probeSocket(path);
    return state === 'live' || state === 'denied' || (pid !== null && processAlive(pid));
  };
  while (await present()) {
    if (clock.monotonic() >= deadline) {
      throw new ControlError(`the agent${pid === null ? '' : ` (pid ${pid})`} is still stopping after ${waitMs} ms`);
    }
    await clock.sleep(options.pollMs ?? 100);
  }
}

/** True while process `pid` exists (EPERM: it exists but is not ours). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
