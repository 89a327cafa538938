import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type DatagramPath, onceEvent, type PeerKey, silentLogger, systemClock } from '@mesh/core';
import { generateRelayToken } from '@mesh/relay-client';
import { RelayManager, type RelayManagerOptions } from '@mesh/relay-manager';
import { randomPeerKey } from '@mesh/relay-manager/testing';
import { RelayServer, type RelayServerOptions } from '@mesh/relay-server';
import { afterEach } from 'vitest';

export const SECRET = 'relay-manager-test-secret';
/** The relay server CLI (child processes run the build: `cd packages/relay-server && npx tsup`). */
export const RELAY_CLI = fileURLToPath(new URL('../../relay-server/dist/cli.js', import.meta.url));
export const NODE = process.execPath;
export const cliBuilt = existsSync(RELAY_CLI);

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch {
      // keep cleaning up
    }
  }
});
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/** A loopback port nothing listens on right now (the exposed address must be known before start). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export const relayUrl = (port: number) => `rel://127.0.0.1:${port}`;

/**
 * A TCP proxy on loopback in front of `targetPort`. `blackhole()` silences every connection made so
 * far, both ways, with no FIN or RST passing either: what a client sees when its relay host vanished
 * and the network dropped the reset (a half-open socket). Connections made afterwards pass again,
 * like a relay that came straight back. Closed after the test.
 */
export async function startBlackholeProxy(
  targetPort: number,
): Promise<{ port: number; blackhole(): void; close(): Promise<void> }> {
  const pairs = new Set<{ silent: boolean; down: Socket; up: Socket }>();
  const server = createServer((down) => {
    const pair = { silent: false, down, up: connect(targetPort, '127.0.0.1') };
    pairs.add(pair);
    for (const [from, to] of [
      [pair.down, pair.up],
      [pair.up, pair.down],
    ] as const) {
      from.on('data', (chunk) => {
        if (!pair.silent) to.write(chunk);
      });
      from.on('error', () => {});
      from.on('close', () => {
        if (!pair.silent) to.destroy();
      });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const close = async () => {
    for (const p of pairs) {
      p.down.destroy();
      p.up.destroy();
    }
    pairs.clear();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  onCleanup(close);
  return {
    port: (server.address() as { port: number }).port,
    blackhole() {
      for (const p of pairs) p.silent = true;
    },
    close,
  };
}

/** An in-process relay server on `port` whose instance URL is `rel://127.0.0.1:<port>`. */
export async function startServer(port?: number, extra: Partial<RelayServerOptions> = {}): Promise<RelayServer> {
  const p = port ?? (await freePort());
  const server = new RelayServer({ port: p, exposedAddress: relayUrl(p), secret: SECRET, ...extra });
  await server.start();
  onCleanup(() => server.stop());
  return server;
}

/** A relay server in a child process (the `mesh-relay` CLI), so a test can SIGKILL it. */
export async function startChildServer(port: number): Promise<ChildProcess> {
  const child = spawn(
    NODE,
    [RELAY_CLI, '--listen', `127.0.0.1:${port}`, '--secret', SECRET, '--exposed-address', relayUrl(port)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`mesh-relay did not start: ${out}`)), 10_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('"relay-listening"')) done();
    };
    const onExit = (code: number | null) => fail(new Error(`mesh-relay exited (${code}): ${out}`));
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    };
    const done = () => {
      cleanup();
      resolve();
    };
    const fail = (err: Error) => {
      cleanup();
      reject(err);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

export async function sigkill(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

/** A started RelayManager for `urls` with a fresh key and a fresh token per dial. */
export async function startManager(
  urls: string[],
  options: Partial<RelayManagerOptions> = {},
): Promise<{ mgr: RelayManager; key: PeerKey }> {
  const key = options.localKey ?? randomPeerKey();
  const mgr = new RelayManager({
    urls,
    token: () => generateRelayToken(SECRET).toString('base64'),
    localKey: key,
    clock: systemClock,
    logger: silentLogger,
    ...options,
  });
  onCleanup(() => mgr.stop());
  await mgr.start();
  return { mgr, key };
}

/** Sends `payload` on `from` and waits (bounded) for it on `to`. */
export async function roundTrip(from: DatagramPath, to: DatagramPath, text: string): Promise<void> {
  const payload = Buffer.from(text);
  const got = onceEvent(to, 'data', { timeoutMs: 5_000, filter: (d) => d.equals(payload) });
  if (!from.send(payload)) throw new Error('send returned false');
  await got;
}
