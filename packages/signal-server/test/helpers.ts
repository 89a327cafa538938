import { generateKeyPairSync } from 'node:crypto';
import { type Logger, onceEvent, PeerKey, silentLogger } from '@mesh/core';
import { answerChallenge, identityFromPrivateKey, SignalClient, type SignalClientOptions } from '@mesh/signal-client';
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import { SignalServer, type SignalServerOptions } from '../src/server.js';

/** A fresh WireGuard key pair: base64 private key (as `wg genkey`) and its PeerKey. */
export function keyPair(): { privateKey: string; publicKey: PeerKey } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const d = privateKey.export({ format: 'jwk' }).d!;
  const x = publicKey.export({ format: 'jwk' }).x!;
  return {
    privateKey: Buffer.from(d, 'base64url').toString('base64'),
    publicKey: PeerKey.fromBytes(Buffer.from(x, 'base64url')),
  };
}

const cleanups: Array<() => unknown> = [];
/** Registers teardown that runs after the current test, even when it fails (last registered first). */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

export const DEADLINE = { timeoutMs: 5_000 };

export async function startServer(options: SignalServerOptions = {}): Promise<SignalServer> {
  const server = new SignalServer({ host: '127.0.0.1', port: 0, logger: silentLogger, ...options });
  onCleanup(() => server.stop());
  await server.start();
  return server;
}

/** A started client (stopped after the test); `connect: true` waits for its registration. */
export async function startClient(
  url: string,
  options: Partial<SignalClientOptions> & { connect?: boolean; logger?: Logger } = {},
): Promise<SignalClient> {
  const { connect = true, ...rest } = options;
  const client = new SignalClient({ url, privateKey: keyPair().privateKey, ...rest });
  onCleanup(() => client.stop());
  const connected = connect ? onceEvent(client, 'connected', DEADLINE) : undefined;
  client.start();
  await connected;
  return client;
}

/** A raw ws connection (for speaking the protocol by hand); frames arrive parsed in `frames`. */
export async function rawSocket(url: string): Promise<{
  ws: WebSocket;
  next(): Promise<Record<string, unknown>>;
  closed: Promise<{ code: number; reason: string }>;
}> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  onCleanup(() => ws.terminate());
  const queue: Array<Record<string, unknown>> = [];
  const waiters: Array<(f: Record<string, unknown>) => void> = [];
  ws.on('message', (d) => {
    const f = JSON.parse(String(d)) as Record<string, unknown>;
    const w = waiters.shift();
    if (w) w(f);
    else queue.push(f);
  });
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const queued = queue.shift();
      if (queued) return resolve(queued);
      const t = setTimeout(() => reject(new Error('no frame within 5 s')), 5_000);
      waiters.push((f) => {
        clearTimeout(t);
        resolve(f);
      });
    });
  return { ws, next, closed };
}

/** Resolves with the first `count` messages `client` emits (deadline 5 s). */
export function collect(client: SignalClient, count: number): Promise<Array<[PeerKey, unknown]>> {
  const got: Array<[PeerKey, unknown]> = [];
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`got ${got.length}/${count} messages within 5 s`)), 5_000);
    const on = (from: PeerKey, m: unknown) => {
      got.push([from, m]);
      if (got.length === count) {
        clearTimeout(t);
        client.off('message', on);
        resolve(got);
      }
    };
    client.on('message', on);
  });
}

/** The register frame answering `challenge` with a proof for `privateKey`, claiming `claim` (default: its own key). */
export function registerFrame(privateKey: string, challenge: Record<string, unknown>, claim?: PeerKey): string {
  const identity = identityFromPrivateKey(privateKey);
  const mac = answerChallenge(identity, {
    ephemeralPublic: Buffer.from(String(challenge.ephemeralKey), 'base64'),
    nonce: Buffer.from(String(challenge.nonce), 'base64'),
  });
  return JSON.stringify({
    type: 'register',
    publicKey: (claim ?? identity.publicKey).base64,
    mac: mac.toString('base64'),
  });
}

/** A raw socket that answered the server's challenge (see registerFrame); the reply is its next frame. */
export async function rawRegister(url: string, privateKey: string, claim?: PeerKey) {
  const raw = await rawSocket(url);
  raw.ws.send(registerFrame(privateKey, await raw.next(), claim));
  return raw;
}
