import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomHex } from '@mesh/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetworkChange, NetworkSnapshot } from '../../src/index.js';

// Real kernel events (needs root): each monitor runs inside a private network namespace, in a
// child started with `ip netns exec` (test/lab/monitor-child.mjs, on the built dist/), and the
// test changes that namespace's links, addresses and routes. Every step waits for its event with
// a 5 s deadline. The namespace is always deleted, also when a step fails.

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./monitor-child.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
const STEP_MS = 5_000;

type Line =
  | { type: 'ready'; snapshot: NetworkSnapshot }
  | { type: 'change'; change: NetworkChange }
  | { type: 'error'; code: string; message: string };

/** The monitor child: its JSON lines, and waiting for one that matches (after the last one consumed). */
class MonitorChild {
  readonly lines: Line[] = [];
  readonly #proc: ChildProcess;
  #cursor = 0;
  #wake: (() => void) | undefined;
  #stderr = '';

  constructor(ns: string, kind: string) {
    this.#proc = spawn('ip', ['netns', 'exec', ns, process.execPath, CHILD, kind], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.#proc.stdout! }).on('line', (text) => {
      this.lines.push(JSON.parse(text) as Line);
      this.#wake?.();
    });
    this.#proc.stderr!.on('data', (d: Buffer) => {
      this.#stderr += d.toString();
    });
  }

  /** The next lines until `done` says the step is seen; rejects after STEP_MS. */
  async until(what: string, done: (seen: Line[]) => boolean): Promise<Line[]> {
    const deadline = Date.now() + STEP_MS;
    for (;;) {
      const seen = this.lines.slice(this.#cursor);
      if (done(seen)) {
        this.#cursor = this.lines.length;
        return seen;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.#proc.exitCode !== null) {
        throw new Error(`no ${what} within ${STEP_MS} ms; lines: ${JSON.stringify(seen)}; stderr: ${this.#stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Closes its stdin (it stops its monitor and exits); SIGKILL if it has not exited within 2 s. */
  async stop(): Promise<void> {
    if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#proc.once('close', () => resolve()));
    this.#proc.stdin!.end();
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
  }
}

const changes = (seen: Line[]) => seen.flatMap((l) => (l.type === 'change' ? [l.change] : []));
const added = (seen: Line[]) => changes(seen).flatMap((c) => c.addressesAdded.map((a) => a.address));
const removed = (seen: Line[]) => changes(seen).flatMap((c) => c.addressesRemoved.map((a) => a.address));

describe.skipIf(process.getuid?.() !== 0).each(['linux', 'polling'])('%s monitor in a private netns', (kind) => {
  const ns = `meshnm-${randomHex(4)}`;
  const inNs = (...args: string[]) => run('ip', ['-n', ns, ...args]);
  let child: MonitorChild | undefined;
  let created = false;

  beforeAll(async () => {
    if (!existsSync(DIST)) throw new Error(`${DIST} is missing: build the package first (npx tsup)`);
    await run('ip', ['netns', 'add', ns]);
    created = true;
    child = new MonitorChild(ns, kind);
    const [ready] = await child.until('ready line', (seen) => seen.some((l) => l.type === 'ready'));
    expect(ready).toEqual({ type: 'ready', snapshot: { addresses: [], defaultRoutes: [], online: false } });
  });

  afterAll(async () => {
    try {
      await child?.stop();
    } finally {
      if (created) await run('ip', ['netns', 'del', ns]);
    }
  });

  it('a new link with addresses: addressesAdded (both families), still offline', async () => {
    // A veth pair with both ends in the namespace: a link with carrier (this kernel has no dummy module).
    await inNs('link', 'add', 'nm0', 'type', 'veth', 'peer', 'name', 'nm0p');
    await inNs('link', 'set', 'nm0p', 'up');
    await inNs('link', 'set', 'nm0', 'up');
    await inNs('address', 'add', '10.77.0.2/24', 'dev', 'nm0');
    await inNs('address', 'add', 'fd00:77::2/64', 'dev', 'nm0', 'nodad');
    const seen = await child!.until(
      'addressesAdded',
      (s) => added(s).includes('10.77.0.2') && added(s).includes('fd00:77::2'),
    );
    expect(changes(seen).at(-1)!.online).toBe(false);
    expect(changes(seen).every((c) => !c.cameOnline && !c.defaultRouteChanged)).toBe(true);
    expect(added(seen).every((a) => !a.startsWith('fe80'))).toBe(true); // link-local stays out
  });

  it('a default route: cameOnline and defaultRouteChanged', async () => {
    await inNs('route', 'add', 'default', 'via', '10.77.0.1', 'dev', 'nm0');
    const seen = await child!.until('cameOnline', (s) => changes(s).some((c) => c.cameOnline));
    const change = changes(seen).find((c) => c.cameOnline)!;
    expect(change.defaultRouteChanged).toBe(true);
    expect(change.snapshot.defaultRoutes).toEqual([
      expect.objectContaining({ family: 'ipv4', dev: 'nm0', gateway: '10.77.0.1' }),
    ]);
  });

  it('the default route deleted: wentOffline', async () => {
    await inNs('route', 'del', 'default', 'via', '10.77.0.1', 'dev', 'nm0');
    const seen = await child!.until('wentOffline', (s) => changes(s).some((c) => c.wentOffline));
    expect(changes(seen).find((c) => c.wentOffline)).toMatchObject({ online: false, defaultRouteChanged: true });
  });

  it('the addresses deleted: addressesRemoved', async () => {
    await inNs('address', 'del', '10.77.0.2/24', 'dev', 'nm0');
    await inNs('address', 'del', 'fd00:77::2/64', 'dev', 'nm0');
    const seen = await child!.until(
      'addressesRemoved',
      (s) => removed(s).includes('10.77.0.2') && removed(s).includes('fd00:77::2'),
    );
    expect(changes(seen).at(-1)!.snapshot.addresses).toEqual([]);
  });

  it('reported no error (the Linux monitor did not fall back to polling)', () => {
    expect(child!.lines.filter((l) => l.type === 'error')).toEqual([]);
  });
});
