import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Clock, Logger } from '@mesh/core';
import {
  decodeClientMessage,
  MAX_AUTH_MESSAGE_SIZE,
  MAX_MESSAGE_SIZE,
  type PeerId,
  RELAY_WS_PATH,
  RelayProtocolError,
  type TokenVerdict,
} from '@mesh/relay-client';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS } from './constants.js';
import { listen } from './listen.js';
import type { DisconnectCause, MetricsRegistry } from './metrics.js';

/** What an authenticated connection's socket events go to. */
export interface SessionHandlers {
  message(frame: Buffer, isBinary: boolean): void;
  closed(): void;
}

export interface AcceptorOptions {
  tls: { cert: string | Buffer; key: string | Buffer } | undefined;
  clock: Clock;
  log: Logger;
  authTimeoutMs: number;
  verify(token: Buffer, peerId: PeerId): TokenVerdict;
  metrics: MetricsRegistry;
  /** False once the server is stopping: new connections are refused. */
  accepting(): boolean;
  /** A connection closed before it authenticated. */
  rejected(cause: DisconnectCause, reason: string): void;
  /** A connection authenticated as `peerId`; from now on its socket events go to the handlers. */
  authenticated(peerId: PeerId, ws: WebSocket, remote: string): SessionHandlers;
}

/**
 * The relay's HTTP(S) listener: upgrades `/relay` to a WebSocket (anything else is a 404) and holds
 * each new connection until it authenticates within `authTimeoutMs` or is rejected.
 */
export class RelayAcceptor {
  readonly #o: AcceptorOptions;
  readonly #http: HttpServer;
  readonly #wss: WebSocketServer;
  readonly #pending = new Set<WebSocket>();

  constructor(options: AcceptorOptions) {
    this.#o = options;
    const { tls } = options;
    const http = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }) : createHttpServer();
    http.headersTimeout = HTTP_HEADERS_TIMEOUT_MS;
    http.requestTimeout = HTTP_REQUEST_TIMEOUT_MS;
    http.on('request', (_req, res) => {
      res.writeHead(404).end();
    });
    http.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket, head));
    http.on('clientError', (_err, socket) => socket.destroy());
    this.#http = http;
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: MAX_MESSAGE_SIZE,
      clientTracking: false,
    });
  }

  /** Connections that have not authenticated yet. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  listen(port: number, host: string): Promise<void> {
    return listen(this.#http, port, host);
  }

  address(): AddressInfo | undefined {
    return (this.#http.address() as AddressInfo | null) ?? undefined;
  }

  /**
   * Stops listening and cuts unauthenticated connections, lets `drain()` close the sessions, then
   * cuts whatever is left and resolves once the listener has closed.
   */
  async close(drain: () => Promise<void> = async () => {}): Promise<void> {
    const http = this.#http;
    const closed = new Promise<void>((r) => http.close(() => r()));
    for (const ws of this.#pending) ws.terminate();
    await drain();
    http.closeAllConnections();
    await closed;
    this.#wss.close();
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    if (!this.#o.accepting() || path !== RELAY_WS_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', () => socket.destroy());
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req));
  }

  #accept(ws: WebSocket, req: IncomingMessage): void {
    const o = this.#o;
    if (!o.accepting()) {
      ws.terminate();
      return;
    }
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    this.#pending.add(ws);
    let session: SessionHandlers | undefined;
    const reject = (cause: DisconnectCause, reason: string) => {
      if (!this.#pending.delete(ws)) return;
      authTimer.cancel();
      o.metrics.disconnect(cause);
      if (cause === 'auth-failed') o.metrics.authFailure(reason);
      o.log.debug('relay-conn-rejected', { remote, cause, reason });
      // NetBird closes without any response: no close message, no close frame.
      ws.terminate();
      o.rejected(cause, reason);
    };
    const authTimer = o.clock.setTimeout(() => reject('auth-timeout', 'timeout'), o.authTimeoutMs);
    ws.on('error', (err) => o.log.debug('relay-ws-error', { remote, error: err }));
    ws.on('close', () => {
      if (session) session.closed();
      else reject('socket-closed', 'closed before auth');
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (session) {
        session.message(data as Buffer, isBinary);
        return;
      }
      if (!this.#pending.has(ws)) return;
      const frame = data as Buffer;
      if (!isBinary) return reject('not-binary', 'text message');
      if (frame.length > MAX_AUTH_MESSAGE_SIZE) return reject('auth-failed', 'oversize');
      let peerId: PeerId;
      let token: Buffer;
      try {
        const msg = decodeClientMessage(frame);
        if (msg.type !== 'auth') return reject('protocol-error', `${msg.type} before auth`);
        ({ peerId, token } = msg);
      } catch (err) {
        return reject('protocol-error', err instanceof RelayProtocolError ? err.reason : 'decode');
      }
      let verdict: TokenVerdict;
      try {
        verdict = o.verify(token, peerId);
      } catch {
        verdict = { valid: false, reason: 'malformed' };
      }
      if (!verdict.valid) return reject('auth-failed', verdict.reason);
      this.#pending.delete(ws);
      authTimer.cancel();
      session = o.authenticated(peerId, ws, remote);
    });
  }
}
