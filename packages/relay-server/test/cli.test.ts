import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { onceEvent } from '@mesh/core';
import { generateRelayToken, RelayClient } from '@mesh/relay-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCliArgs, parseHostPort, versionLine } from '../src/cli-args.js';
import { onCleanup, randomKey, roundTrip, SECRET, selfSignedCert } from './helpers.js';

const PKG = fileURLToPath(new URL('..', import.meta.url));
const CLI = `${PKG}dist/cli.js`;
const PKG_VERSION = (JSON.parse(readFileSync(`${PKG}package.json`, 'utf8')) as { version: string }).version;
const BASE = ['--listen', '127.0.0.1:0', '--secret', SECRET, '--exposed-address', 'rel://relay.test:1'];

/** The CLI runs from dist: (re)build when it is missing or older than a source file. */
beforeAll(() => {
  const newest = Math.max(...readdirSync(`${PKG}src`).map((f) => statSync(`${PKG}src/${f}`).mtimeMs));
  if (!existsSync(CLI) || statSync(CLI).mtimeMs < newest) {
    execFileSync(process.execPath, [`${PKG}../../node_modules/tsup/dist/cli-default.js`], {
      cwd: PKG,
      stdio: 'ignore',
    });
  }
}, 60_000);

interface Running {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  waitFor(event: string): Promise<Record<string, unknown>>;
}

/** Starts the CLI (killed at cleanup), collecting what it prints. */
function spawnCli(args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const printed = { out: '', err: '' };
  child.stdout.on('data', (d: Buffer) => {
    printed.out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    printed.err += d.toString();
  });
  return { child, printed };
}

/** Runs the CLI to its exit; its exit code and what it printed. */
async function runToExit(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const { child, printed } = spawnCli(args);
  const [code] = await once(child, 'close', { signal: AbortSignal.timeout(10_000) });
  return { code: code as number | null, ...printed };
}

function run(args: string[]): Running {
  const { child } = spawnCli(args);
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ event: string; resolve: (l: Record<string, unknown>) => void }> = [];
  let buf = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>; // every line is JSON
      buf = buf.slice(nl + 1);
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (w.event === line.event) w.resolve(line);
        else waiters.push(w);
      }
    }
  });
  const waitFor = (event: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const seen = lines.find((l) => l.event === event);
      if (seen) return resolve(seen);
      const t = setTimeout(() => reject(new Error(`no ${event} line; got ${JSON.stringify(lines)}`)), 10_000);
      waiters.push({
        event,
        resolve: (l) => {
          clearTimeout(t);
          resolve(l);
        },
      });
    });
  return { child, lines, waitFor };
}

async function client(port: number) {
  const c = new RelayClient({
    url: `rel://127.0.0.1:${port}`,
    localKey: randomKey(),
    token: generateRelayToken(SECRET),
  });
  onCleanup(() => c.close());
  await c.connect();
  return c;
}

describe('mesh-relay CLI', () => {
  it('parses its flags (and refuses bad ones with readable errors)', () => {
    const ok = parseCliArgs([
      '--listen',
      '0.0.0.0:443',
      '--secret',
      's',
      '--exposed-address',
      'rels://r.example:443',
      '--metrics',
      '[::1]:9090',
    ]);
    expect(ok).toMatchObject({ action: 'serve' });
    expect(ok.action === 'serve' && ok.config).toMatchObject({
      host: '0.0.0.0',
      port: 443,
      secret: 's',
      exposedAddress: 'rels://r.example:443',
      metrics: { host: '::1', port: 9090 },
    });
    expect(parseCliArgs(['--listen', ':80', '--exposed-address', 'x:1'], { MESH_RELAY_SECRET: 'env' })).toMatchObject({
      config: { secret: 'env' },
    });
    expect(parseHostPort(':80', 'x')).toEqual({ host: '0.0.0.0', port: 80 });
    for (const bad of [
      [],
      ['--listen', 'nohost', '--secret', 's', '--exposed-address', 'a:1'],
      ['--listen', 'h:70000', '--secret', 's', '--exposed-address', 'a:1'],
      ['--listen', 'h:1', '--exposed-address', 'a:1'],
      ['--listen', 'h:1', '--secret', 's', '--exposed-address', 'a:1', '--tls-cert', 'c.pem'],
      ['--listen', 'h:1', '--secret', 's', '--exposed-address', 'a:1', '--bogus'],
      ['--listen', 'h:1', '--secret', 's', '--exposed-address', 'a:1', '--log-level', 'loud'],
      ['--listen', 'h:1', '--secret', 's', '--exposed-address', 'http://x'],
      ['--listen', 'h:1', '--secret', 's', '--exposed-address', 'rel://'],
      ['--listen', 'h:1', '--secret', 's', '--exposed-address'],
    ]) {
      expect(() => parseCliArgs(bad, {})).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    }
  });

  it('--help, -h and --version win over everything else and need no other flag', () => {
    expect(parseCliArgs(['--help'], {})).toEqual({ action: 'help' });
    expect(parseCliArgs(['--listen', 'oops', '-h'], {})).toEqual({ action: 'help' });
    expect(parseCliArgs(['--version'], {})).toEqual({ action: 'version' });
    expect(versionLine()).toBe(`mesh-relay ${PKG_VERSION}\n`);
  });

  it('checks the values the server would refuse later: exposed address, TLS file contents', () => {
    const err = (args: string[]) => {
      try {
        parseCliArgs(args, {});
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err(['--exposed-address', 'http://x'])).toBe(
      '--exposed-address: exposed address scheme must be rel or rels, got http:',
    );
    expect(err(['--bogus'])).toBe("unknown option '--bogus'");
    expect(err(['--listen'])).toBe("option '--listen <value>' argument missing");
    const tc = selfSignedCert();
    onCleanup(() => tc.remove());
    const tlsArgs = (cert: string, key: string) => [...BASE, '--tls-cert', cert, '--tls-key', key];
    expect(err(tlsArgs(tc.certPath, tc.certPath))).toMatch(/^--tls-cert\/--tls-key: /);
    expect(err(tlsArgs(tc.keyPath, tc.keyPath))).toMatch(/^--tls-cert\/--tls-key: /);
    expect(parseCliArgs(tlsArgs(tc.certPath, tc.keyPath), {})).toMatchObject({ action: 'serve' });
  });

  it('--help / -h print the usage on stdout, --version the version; exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const r = await runToExit([flag]);
      expect(r).toMatchObject({ code: 0, err: '' });
      expect(r.out).toMatch(/^usage: mesh-relay --listen HOST:PORT/);
      expect(r.out).toContain('--exposed-address URL');
    }
    expect(await runToExit(['--version'])).toEqual({ code: 0, out: `mesh-relay ${PKG_VERSION}\n`, err: '' });
  });

  it('bad arguments and bad values: one line on stderr (then the usage), exit 2, no stack trace', async () => {
    for (const [args, line] of [
      [['--listen', 'oops'], 'mesh-relay: --listen must be HOST:PORT, got "oops"'],
      [['--bogus'], "mesh-relay: unknown option '--bogus'"],
      [
        ['--exposed-address', 'http://x'],
        'mesh-relay: --exposed-address: exposed address scheme must be rel or rels, got http:',
      ],
      [
        [...BASE.slice(0, 4), '--exposed-address', 'http://x'],
        'mesh-relay: --exposed-address: exposed address scheme must be rel or rels, got http:',
      ],
      [
        ['--listen', '127.0.0.1:70000', '--secret', 's', '--exposed-address', 'rel://r:1'],
        'mesh-relay: --listen must be HOST:PORT, got "127.0.0.1:70000"',
      ],
    ] as const) {
      const r = await runToExit([...args]);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.split('\n')[0]).toBe(line);
      expect(r.err).toMatch(/\nusage: mesh-relay/);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it('a runtime failure (the port is taken): one line on stderr, exit 1', async () => {
    const first = run(BASE);
    const port = (await first.waitFor('relay-listening')).port as number;
    const r = await runToExit(['--listen', `127.0.0.1:${port}`, ...BASE.slice(2)]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^mesh-relay: relay server could not listen: .*EADDRINUSE.*\n$/);
  });

  it('serves relay traffic, logs JSON lines, and on SIGTERM closes every peer gracefully and exits 0', async () => {
    const r = run([...BASE, '--metrics', '127.0.0.1:0']);
    const listening = await r.waitFor('relay-listening');
    expect(listening).toMatchObject({ level: 'info', service: 'mesh-relay', instanceUrl: 'rel://relay.test:1' });
    const port = listening.port as number;
    const [ca, cb] = await Promise.all([client(port), client(port)]);
    const [a, b] = await Promise.all([ca.openConn(cb.localKey), cb.openConn(ca.localKey)]);
    await roundTrip(a, b, Buffer.from('through the CLI'));
    const metrics = await r.waitFor('relay-metrics');
    const text = await (await fetch(`http://127.0.0.1:${metrics.port}/metrics`)).text();
    expect(text).toContain('mesh_relay_connected_peers 2');
    const lost = [ca, cb].map((c) => onceEvent(c, 'disconnected', { timeoutMs: 10_000 }));
    const exited = once(r.child, 'exit', { signal: AbortSignal.timeout(10_000) });
    r.child.kill('SIGTERM');
    expect((await Promise.all(lost)).map(([i]) => i.cause)).toEqual(['server-close', 'server-close']);
    expect((await exited)[0]).toBe(0);
    expect(r.lines.some((l) => l.event === 'relay-shutdown' && l.signal === 'SIGTERM')).toBe(true);
  });

  it('--tls-cert/--tls-key serve wss; an exposed address without a scheme becomes rels://', async () => {
    const tc = selfSignedCert();
    onCleanup(() => tc.remove());
    const r = run([
      ...BASE.slice(0, 4),
      '--exposed-address',
      'relay.test:443',
      '--tls-cert',
      tc.certPath,
      '--tls-key',
      tc.keyPath,
    ]);
    const listening = await r.waitFor('relay-listening');
    expect(listening).toMatchObject({ instanceUrl: 'rels://relay.test:443', tls: true });
    const c = new RelayClient({
      url: `rels://127.0.0.1:${listening.port}`,
      localKey: randomKey(),
      token: generateRelayToken(SECRET),
      tls: { ca: tc.cert },
    });
    onCleanup(() => c.close());
    await c.connect();
    expect(c.instanceUrl).toBe('rels://relay.test:443');
  });

  it('--fault-control exposes the switches over HTTP (and only then)', async () => {
    const r = run([...BASE, '--fault-control', '127.0.0.1:0', '--metrics', '127.0.0.1:0']);
    const port = (await r.waitFor('relay-listening')).port as number;
    const metricsPort = (await r.waitFor('relay-metrics')).port as number;
    const metricsText = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const control = (await r.waitFor('relay-fault-control')).port as number;
    const [ca, cb] = await Promise.all([client(port), client(port)]);
    const [a, b] = await Promise.all([ca.openConn(cb.localKey), cb.openConn(ca.localKey)]);
    const post = async (path: string) => (await fetch(`http://127.0.0.1:${control}${path}`, { method: 'POST' })).json();
    const enc = encodeURIComponent;
    expect(await post(`/stall?a=${enc(ca.localKey.base64)}&b=${enc(cb.localPeerId.toString())}`)).toEqual({
      ok: true,
      result: true,
    });
    const heard: Buffer[] = [];
    b.on('data', (d) => heard.push(d));
    a.send(Buffer.from('stalled'));
    // The drop must have happened before unstalling (the HTTP request could overtake the frame).
    await expect
      .poll(metricsText, { timeout: 10_000 })
      .toContain('mesh_relay_dropped_messages_total{cause="fault-stall"} 1');
    expect(await post(`/unstall?a=${enc(ca.localKey.base64)}&b=${enc(cb.localKey.base64)}`)).toMatchObject({
      ok: true,
    });
    await roundTrip(a, b, Buffer.from('flowing'));
    expect(heard.map(String)).toEqual(['flowing']);
    const lost = onceEvent(cb, 'disconnected', { timeoutMs: 10_000 });
    expect(await post(`/drop?peer=${enc(cb.localKey.base64)}`)).toEqual({ ok: true, result: true });
    await lost;
    expect(ca.hasConn(cb.localKey)).toBe(true); // nobody told A
    expect(await post('/drop?peer=nonsense')).toMatchObject({ ok: false });

    const plain = run(BASE);
    await plain.waitFor('relay-listening');
    expect(plain.lines.some((l) => l.event === 'relay-fault-control')).toBe(false);
  });
});
