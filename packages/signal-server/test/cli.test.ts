import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { onceEvent } from '@mesh/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CliConfig, parseCliArgs } from '../src/cli-args.js';
import { collect, DEADLINE, onCleanup, startClient } from './helpers.js';

const PKG = fileURLToPath(new URL('..', import.meta.url));
const CLI = `${PKG}dist/cli.js`;

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

/** The server config a command line asks for (throws when it asks for help or the version). */
function serve(argv: string[]): CliConfig {
  const request = parseCliArgs(argv);
  if (request.kind !== 'serve') throw new Error(`asked for ${request.kind}`);
  return request.config;
}

describe('parseCliArgs', () => {
  it('parses --listen (IPv4, IPv6) and options', () => {
    expect(serve(['--listen', '127.0.0.1:7000'])).toEqual({ host: '127.0.0.1', port: 7000, logLevel: 'info' });
    expect(serve(['--listen', '[::1]:0', '--register-timeout', '900', '--log-level', 'debug'])).toEqual({
      host: '::1',
      port: 0,
      registerTimeoutMs: 900,
      logLevel: 'debug',
    });
    expect(serve(['--listen', 'h:1', '--rate-limit', '1000']).rateLimit).toEqual({
      messagesPerSecond: 1000,
      burst: 1000,
    });
  });

  it('--help / -h and --version win over the server flags', () => {
    expect(parseCliArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseCliArgs(['-h', '--listen', 'h:1'])).toEqual({ kind: 'help' });
    expect(parseCliArgs(['--version'])).toEqual({ kind: 'version' });
  });

  it('names the bad flag', () => {
    const bad: Array<[string[], RegExp]> = [
      [[], /--listen is required/],
      [['--listen', '7000'], /--listen must be HOST:PORT/],
      [['--listen', 'h:70000'], /--listen must be HOST:PORT/],
      [['--listen', 'h:1', '--register-timeout', '0'], /--register-timeout must be a positive integer/],
      [['--listen', 'h:1', '--log-level', 'loud'], /--log-level must be one of/],
      [['--listen', 'h:1', '--nope'], /nope/],
      [['--listen', 'h:1', '--max-message-bytes', '9'.repeat(400)], /--max-message-bytes must be a positive integer/],
      [['--help', '--nope'], /nope/],
    ];
    for (const [argv, message] of bad) {
      expect(() => parseCliArgs(argv), argv.join(' ')).toThrow(message);
    }
  });
});

describe('mesh-signal', () => {
  it('logs JSON lines, serves clients, and exits 0 on SIGTERM after closing them', async () => {
    const child = spawn(process.execPath, [CLI, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    onCleanup(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const lines: Array<Record<string, unknown>> = [];
    let buf = '';
    const listening = new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no signal-listening line: ${JSON.stringify(lines)}`)), 10_000);
      child.stdout.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>; // every line must be JSON
          buf = buf.slice(nl + 1);
          lines.push(line);
          if (line.event === 'signal-listening') {
            clearTimeout(t);
            resolve(line.port as number);
          }
        }
      });
    });
    const url = `ws://127.0.0.1:${await listening}`;
    const a = await startClient(url);
    const b = await startClient(url);
    const got = collect(b, 1);
    await a.send(b.publicKey, { type: 'candidate', version: 1, sessionId: '0123456789', candidate: {} });
    await got;
    const down = onceEvent(a, 'disconnected', DEADLINE);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect((await down)[0].cause).toBe('shutdown');
    const events = lines.map((l) => l.event);
    expect(events).toEqual(
      expect.arrayContaining(['signal-listening', 'signal-registered', 'signal-shutdown', 'signal-stopped']),
    );
    for (const l of lines)
      expect(l).toMatchObject({ ts: expect.any(String), level: expect.any(String), service: 'mesh-signal' });
  });

  it('--help and -h print the usage on stdout and exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const r = await runToExit([flag]);
      expect(r, flag).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(/^usage: mesh-signal --listen HOST:PORT[\s\S]*--help \| --version/);
    }
  });

  it('--version prints the version from package.json and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(`${PKG}package.json`, 'utf8')) as { version: string };
    expect(await runToExit(['--version'])).toEqual({ code: 0, stdout: `mesh-signal ${version}\n`, stderr: '' });
  });

  it('exits 2 with one error line and the usage on stderr for a bad command line, never a stack trace', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--listen', 'oops'], /--listen must be HOST:PORT/],
      [['--nope'], /nope/],
      [['--listen', '127.0.0.1:0', '--rate-burst', 'x'], /--rate-burst must be a positive integer/],
      [['--listen', '127.0.0.1:0', '--register-timeout', '9'.repeat(400)], /--register-timeout must be/],
    ];
    for (const [argv, message] of cases) {
      const r = await runToExit(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      const [first, ...rest] = r.stderr.split('\n');
      expect(first).toMatch(/^mesh-signal: /);
      expect(first).toMatch(message);
      expect(rest.join('\n')).toMatch(/^usage: mesh-signal/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

/** Runs the built CLI to its exit; resolves with the exit code and everything it printed. */
async function runToExit(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  return { code, stdout, stderr };
}
