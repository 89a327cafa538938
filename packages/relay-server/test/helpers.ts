import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onceEvent, PeerKey } from '@mesh/core';
import { generateRelayToken, RelayClient, type RelayClientOptions, type RelayConn } from '@mesh/relay-client';
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import { RelayServer, type RelayServerOptions } from '../src/index.js';

export const SECRET = 'relay-test-secret';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

export function randomKey(): PeerKey {
  return PeerKey.fromBytes(randomBytes(32));
}

export async function startServer(options: Partial<RelayServerOptions> = {}): Promise<RelayServer> {
  const server = new RelayServer({ exposedAddress: 'rel://127.0.0.1:1', secret: SECRET, ...options });
  await server.start();
  onCleanup(() => server.stop());
  return server;
}

export async function connectClient(
  server: RelayServer,
  key: PeerKey = randomKey(),
  options: Partial<RelayClientOptions> = {},
): Promise<RelayClient> {
  const client = new RelayClient({ url: server.url, localKey: key, token: generateRelayToken(SECRET), ...options });
  onCleanup(() => client.close());
  await client.connect();
  return client;
}

/** Two connected clients with an open conn each way. */
export async function openPair(server: RelayServer, options: Partial<RelayClientOptions> = {}) {
  const [ca, cb] = await Promise.all([
    connectClient(server, randomKey(), options),
    connectClient(server, randomKey(), options),
  ]);
  const [a, b] = await Promise.all([ca.openConn(cb.localKey), cb.openConn(ca.localKey)]);
  return { ca, cb, a, b };
}

/** Sends `payload` over `from` and waits for it at `to`. */
export async function roundTrip(from: RelayConn, to: RelayConn, payload: Buffer, timeoutMs = 5000): Promise<void> {
  const got = onceEvent(to, 'data', { timeoutMs, filter: (d) => d.equals(payload) });
  if (!from.send(payload)) throw new Error('send returned false');
  await got;
}

/** A raw ws client to the relay endpoint (for protocol-level tests). */
export async function rawSocket(server: RelayServer): Promise<WebSocket> {
  const ws = new WebSocket(server.url, { perMessageDeflate: false });
  onCleanup(() => ws.terminate());
  ws.on('error', () => {});
  await once(ws, 'open', { signal: AbortSignal.timeout(5000) });
  return ws;
}

/** Resolves with the close code when the socket closes (or rejects after `timeoutMs`). */
export function closed(ws: WebSocket, timeoutMs = 5000): Promise<number> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve(1006);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('socket did not close')), timeoutMs);
    ws.once('close', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

export interface TestCert {
  certPath: string;
  keyPath: string;
  cert: Buffer;
  key: Buffer;
  /** Removes the files. */
  remove(): void;
}

/** A self-signed P-256 certificate for 127.0.0.1 and localhost, made by openssl for this run only. */
export function selfSignedCert(): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-relay-tls-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  const subject = ['-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'];
  const curve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  execFileSync(
    'openssl',
    ['req', '-x509', ...curve, '-nodes', '-days', '1', ...subject, '-keyout', keyPath, '-out', certPath],
    {
      stdio: 'ignore',
    },
  );
  return {
    certPath,
    keyPath,
    cert: readFileSync(certPath),
    key: readFileSync(keyPath),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
