import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { type Clock, systemClock, toError } from '@mesh/core';
import { ControlError } from './errors.js';
import type { AgentStatus } from './status.js';
import { claimSocketPath } from './unix-socket.js';

/**
 * Control protocol (unix socket, one JSON object per line, one request per connection):
 * request `{"op":"status"}` → reply `{"ok":true,"status":AgentStatus}` or
 * `{"ok":false,"error":{"code","message"}}`. Requests longer than 4 KiB are refused.
 */
export type ControlRequest = { op: 'status' };
export type ControlReply = { ok: true; status: AgentStatus } | { ok: false; error: { code: string; message: string } };

const MAX_REQUEST = 4096;

export interface ControlHandlers {
  status(): Promise<AgentStatus>;
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
      void this.#answer(line).then((reply) => socket.end(`${JSON.stringify(reply)}\n`));
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
    if (op !== 'status') return fail('ERR_AGENT_CONTROL', `unknown op ${JSON.stringify(op)}`);
    try {
      return { ok: true, status: await this.#handlers.status() };
    } catch (err) {
      const e = toError(err);
      return fail((e as { code?: string }).code ?? 'ERR_AGENT_CONTROL', e.message);
    }
  }
}

/** Sends one request to the agent's control socket and returns its reply's payload. */
export function requestStatus(path: string, options: { timeoutMs?: number; clock?: Clock } = {}): Promise<AgentStatus> {
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buf = '';
    const timer = (options.clock ?? systemClock).setTimeout(() => {
      socket.destroy();
      reject(new ControlError(`no answer from the agent at ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (err: Error | null, status?: AgentStatus) => {
      timer.cancel();
      socket.destroy();
      if (err) reject(err);
      else resolve(status!);
    };
    socket.once('connect', () => socket.write(`${JSON.stringify({ op: 'status' } satisfies ControlRequest)}\n`));
    socket.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
    });
    socket.once('error', (err) =>
      done(
        new ControlError(
          `cannot reach the agent at ${path} (${(err as { code?: string }).code ?? err.message}): is it running?`,
          { cause: err },
        ),
      ),
    );
    socket.once('end', () => {
      let reply: ControlReply;
      try {
        reply = JSON.parse(buf) as ControlReply;
      } catch {
        done(new ControlError(`the agent at ${path} sent a malformed reply`));
        return;
      }
      if (reply.ok) done(null, reply.status);
      else done(new ControlError(`the agent refused: ${reply.error.code}: ${reply.error.message}`));
    });
  });
}
