import { abortReason, type Clock, TimeoutError, type Timer, toError } from '@mesh/core';
import WebSocket from 'ws';
import { RelayAuthError, RelayConnectError } from './errors.js';
import type { RelayClientOptions } from './options.js';
import { decodeServerMessage, type ServerMessage } from './protocol/codec.js';
import { MAX_MESSAGE_SIZE } from './protocol/constants.js';
import { relayWebSocketUrl } from './url.js';

export interface HandshakeOptions {
  url: string;
  /** The encoded auth message, sent once the socket is open. */
  auth: Buffer;
  tls: RelayClientOptions['tls'];
  clock: Clock;
  dialTimeoutMs: number;
  authTimeoutMs: number;
  signal: AbortSignal | undefined;
  /**
   * Called synchronously inside the auth reply's message event, so the caller can switch the socket
   * to its own handlers before frames that arrived in the same chunk are dispatched.
   */
  established(socket: WebSocket, instanceUrl: string): void;
}

export interface Handshake {
  readonly socket: WebSocket;
  /** Resolves after `established`; on failure the socket is already cut. */
  readonly done: Promise<void>;
  /** Fails the handshake (the client was closed while connecting). */
  fail(err: Error): void;
}

/** Dials the relay, sends the auth message and waits for the auth reply, each phase bounded. */
export function handshake(o: HandshakeOptions): Handshake {
  const { url, signal } = o;
  const socket = new WebSocket(relayWebSocketUrl(url), {
    perMessageDeflate: false,
    maxPayload: MAX_MESSAGE_SIZE,
    ...o.tls,
  });
  let fail: (err: Error) => void = () => {};
  let timer: Timer | undefined;
  let onAbort: (() => void) | undefined;
  let phase: 'dial' | 'auth' = 'dial';
  const waiting = new Promise<void>((resolve, reject) => {
    const arm = (ms: number, what: string) => {
      timer?.cancel();
      timer = o.clock.setTimeout(() => reject(new TimeoutError(`relay ${what} timed out after ${ms} ms`)), ms);
    };
    fail = reject;
    onAbort = () => reject(abortReason(signal!));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    arm(o.dialTimeoutMs, 'dial');
    socket.on('unexpected-response', (_req, res) => {
      reject(new RelayConnectError(`relay ${url} answered HTTP ${res.statusCode} instead of a WebSocket`));
    });
    socket.on('error', (err) => {
      if (phase === 'dial') {
        reject(new RelayConnectError(`cannot connect to relay ${url}: ${err.message}`, { cause: err }));
      } else reject(new RelayAuthError(`relay ${url} failed during auth: ${err.message}`, { cause: err }));
    });
    socket.on('close', () => {
      reject(
        phase === 'dial'
          ? new RelayConnectError(`relay ${url} closed the connection while dialling`)
          : new RelayAuthError(`relay ${url} closed the connection without an auth reply (token rejected?)`),
      );
    });
    socket.on('open', () => {
      phase = 'auth';
      arm(o.authTimeoutMs, 'auth reply');
      socket.send(o.auth, { binary: true });
    });
    socket.once('message', (data: Buffer, isBinary: boolean) => {
      try {
        o.established(socket, authReply(data, isBinary));
        resolve();
      } catch (err) {
        reject(err);
      }
    });
  });
  const done = waiting
    .catch((err: unknown) => {
      cut(socket);
      throw err;
    })
    .finally(() => {
      timer?.cancel();
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    });
  return { socket, done, fail: (err) => fail(err) };
}

/** Drops every handler (a late error must not throw) and returns the socket, to be cut or flushed. */
export function silence(ws: WebSocket): WebSocket {
  ws.removeAllListeners();
  ws.on('error', () => {});
  return ws;
}

/** Silences and terminates the socket. */
export function cut(ws: WebSocket): void {
  silence(ws).terminate();
}

/** The instance URL from the first server message, which must be an auth response. */
function authReply(data: Buffer, isBinary: boolean): string {
  if (!isBinary) throw new RelayAuthError('relay answered auth with a text message');
  let msg: ServerMessage;
  try {
    msg = decodeServerMessage(data);
  } catch (err) {
    throw new RelayAuthError(`bad auth reply: ${toError(err).message}`, { cause: err });
  }
  if (msg.type !== 'auth-response') throw new RelayAuthError(`relay answered auth with ${msg.type}`);
  return msg.instanceUrl;
}
