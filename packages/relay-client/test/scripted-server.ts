import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { decodeClientMessage, encodeAuthResponse } from '../src/index.js';

/**
 * A protocol-level stand-in for a relay server: answers auth (unless told not to) and lets a test
 * push any frame and see every frame the client sends.
 */
export class ScriptedServer {
  readonly received: Buffer[] = [];
  /** WebSocket pings the client sent. */
  pings = 0;
  socket: WebSocket | undefined;
  #wss: WebSocketServer;
  #onFrame: Array<() => void> = [];

  private constructor(wss: WebSocketServer, reply: ((auth: Buffer) => Buffer | Buffer[] | undefined) | undefined) {
    this.#wss = wss;
    wss.on('connection', (ws) => {
      this.socket = ws;
      ws.on('error', () => {});
      ws.on('ping', () => {
        this.pings++;
        for (const fn of this.#onFrame.splice(0)) fn();
      });
      ws.on('message', (data: Buffer) => {
        if (this.received.length === 0 && reply) {
          const answer = reply(data);
          if (!answer) ws.terminate();
          // Several frames are written in one go, so they tend to share a TCP segment.
          else for (const frame of [answer].flat()) ws.send(frame);
        }
        this.received.push(data);
        for (const fn of this.#onFrame.splice(0)) fn();
      });
    });
  }

  static async start(
    reply: ((auth: Buffer) => Buffer | Buffer[] | undefined) | undefined = () => encodeAuthResponse('rel://scripted:1'),
    path = '/relay',
    /** False: pings go unanswered, like a server that vanished behind a half-open socket. */
    autoPong = true,
  ): Promise<ScriptedServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path, perMessageDeflate: false, autoPong });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const s = new ScriptedServer(wss, reply);
    servers.push(s);
    return s;
  }

  get url(): string {
    return `rel://127.0.0.1:${(this.#wss.address() as AddressInfo).port}`;
  }

  send(frame: Buffer): void {
    this.socket!.send(frame, { binary: true });
  }

  /** Waits until the client has sent `count` frames in all (auth included). */
  async frames(count: number, timeoutMs = 5000): Promise<Buffer[]> {
    await this.#until(
      () => this.received.length >= count,
      () => `got ${this.received.length} frames, wanted ${count}`,
      timeoutMs,
    );
    return this.received;
  }

  /** Waits until the client has sent `count` pings in all. */
  async pinged(count: number, timeoutMs = 5000): Promise<void> {
    await this.#until(
      () => this.pings >= count,
      () => `got ${this.pings} pings, wanted ${count}`,
      timeoutMs,
    );
  }

  async #until(done: () => boolean, what: () => string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(what());
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.#onFrame.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Types of the frames the client sent (decoded as a server would). */
  types(): string[] {
    return this.received.map((f) => decodeClientMessage(f).type);
  }

  async close(): Promise<void> {
    for (const c of this.#wss.clients) c.terminate();
    await new Promise((r) => this.#wss.close(r));
  }
}

const servers: ScriptedServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
