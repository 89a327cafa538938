import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { JsonLinesLogger, onceEvent, PeerKey } from '@mesh/core';
import { afterEach } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { SignalClient } from '../src/client.js';
import type { SignalClientOptions } from '../src/options.js';
import { NONCE_BYTES } from '../src/protocol/crypto.js';
import { decodeClientFrame, encodeChallenge, encodeRegistered } from '../src/protocol/wire.js';

/** Real-time bound on waiting for an event that needs socket I/O. */
export const DEADLINE = { timeoutMs: 5_000 };

/** A WireGuard key pair from node:crypto: base64 private key and its PeerKey. */
export function keyPair(): { privateKey: string; publicKey: PeerKey } {
  const { d, x } = generateKeyPairSync('x25519').privateKey.export({ format: 'jwk' });
  const raw = (b64url?: string) => Buffer.from(b64url!, 'base64url');
  return { privateKey: raw(d).toString('base64'), publicKey: PeerKey.fromBytes(raw(x)) };
}

const servers = new Set<FakeServer>();
const clients = new Set<SignalClient>();
// Servers first: a black-holed socket would hold a client's graceful close until its (fake) timeout.
afterEach(async () => {
  await Promise.all([...servers].map((s) => s.close()));
  await Promise.all([...clients].map((c) => c.stop()));
  servers.clear();
  clients.clear();
});

/**
 * A minimal mesh-signal server on loopback for the client's own tests: challenge, then
 * `registered` for whatever key the client claims (the client is under test, not the proof), and
 * `send` frames are counted and dropped. `cutOnOpen` ends every connection at once without a close
 * frame (an attempt that fails fast, as ws code 1006).
 */
export class FakeServer {
  /** Connections accepted so far. */
  connections = 0;
  /** WebSocket pings received (answered automatically unless black-holed). */
  pings = 0;
  /** `send` frames received. */
  sends = 0;
  readonly #wss: WebSocketServer;
  readonly #sockets = new Set<WebSocket>();

  private constructor(wss: WebSocketServer, cutOnOpen: boolean) {
    this.#wss = wss;
    wss.on('connection', (ws) => {
      this.connections++;
      this.#sockets.add(ws);
      ws.on('close', () => this.#sockets.delete(ws));
      if (cutOnOpen) {
        ws.terminate();
        return;
      }
      ws.on('ping', () => this.pings++);
      ws.on('message', (data) => {
        const frame = decodeClientFrame(String(data));
        if (frame.type === 'register') ws.send(encodeRegistered(frame.publicKey));
        else this.sends++;
      });
      ws.send(encodeChallenge(randomBytes(32), randomBytes(NONCE_BYTES)));
    });
  }

  static async start(options: { port?: number; cutOnOpen?: boolean } = {}): Promise<FakeServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: options.port ?? 0, perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    const server = new FakeServer(wss, options.cutOnOpen ?? false);
    servers.add(server);
    return server;
  }

  /** A loopback port nothing listens on (bound, then released). */
  static async freePort(): Promise<number> {
    const s = await FakeServer.start();
    const port = s.port;
    await s.close();
    return port;
  }

  get port(): number {
    return (this.#wss.address() as AddressInfo).port;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /**
   * Every open connection stops reading, as when the client's path vanished: its frames and pings
   * go out without an error and nothing ever comes back. New connections are served normally.
   */
  blackHole(): void {
    for (const ws of this.#sockets) ws.pause();
  }

  close(): Promise<void> {
    servers.delete(this);
    for (const ws of this.#sockets) ws.terminate();
    return new Promise((resolve) => this.#wss.close(() => resolve()));
  }
}

/** A started client (stopped after the test) and the log events it wrote; `connect: true` waits for registration. */
export async function startClient(
  url: string,
  options: Partial<SignalClientOptions> & { connect?: boolean } = {},
): Promise<{ client: SignalClient; logs: Array<Record<string, unknown>> }> {
  const { connect = true, ...rest } = options;
  const logs: Array<Record<string, unknown>> = [];
  const logger = new JsonLinesLogger({ level: 'debug', write: (line) => logs.push(JSON.parse(line)) });
  const client = new SignalClient({ url, privateKey: keyPair().privateKey, logger, ...rest });
  clients.add(client);
  const connected = connect ? onceEvent(client, 'connected', DEADLINE) : undefined;
  client.start();
  await connected;
  return { client, logs };
}
