import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { type Clock, type Logger, silentLogger, systemClock, toError } from '@mesh/core';
import { UapiDevice, WgCliDevice, type WgDevice } from '@mesh/wg-control';
import type { AgentConfig } from './config.js';
import { InterfaceError } from './errors.js';
import { claimSocketPath } from './unix-socket.js';

/** A WireGuard interface the agent uses; `close()` removes what `openInterface` created. */
export interface WgInterface {
  readonly name: string;
  readonly device: WgDevice;
  /** True when the agent created the interface (and so removes it). */
  readonly owned: boolean;
  close(): Promise<void>;
}

export interface OpenInterfaceOptions {
  clock?: Clock;
  logger?: Logger;
  /** Bound on wireguard-go creating its socket, and on it exiting after SIGTERM. Default 5000 ms. */
  timeoutMs?: number;
}

function run(argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(argv[0]!, argv.slice(1), { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new InterfaceError(`${argv.join(' ')} failed: ${stderr.trim() || err.message}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

function linkExists(name: string): Promise<boolean> {
  return run(['ip', 'link', 'show', 'dev', name]).then(
    () => true,
    () => false,
  );
}

/** Polls `test` every 25 ms until it holds or `timeoutMs` passes (bounded; no event exists for it). */
async function waitFor(
  test: () => boolean,
  timeoutMs: number,
  clock: Clock,
  abort: () => Error | null,
): Promise<boolean> {
  const deadline = clock.monotonic() + timeoutMs;
  while (!test()) {
    const err = abort();
    if (err) throw err;
    if (clock.monotonic() >= deadline) return false;
    await clock.sleep(25);
  }
  return true;
}

async function assignAddress(cfg: AgentConfig['interface']): Promise<void> {
  await run(['ip', 'address', 'add', cfg.address, 'dev', cfg.name]);
  await run(['ip', 'link', 'set', 'dev', cfg.name, 'mtu', String(cfg.mtu), 'up']);
}

/** Starts `wireguard-go -f <name>`: a userspace device with a UAPI socket, removed again on close. */
async function openWireguardGo(cfg: AgentConfig['interface'], o: Required<OpenInterfaceOptions>): Promise<WgInterface> {
  const socket = cfg.uapiSocket!;
  // A socket file nobody serves is a crashed run's leftover: take it over.
  if (!(await claimSocketPath(socket)) || (await linkExists(cfg.name))) {
    throw new InterfaceError(`interface ${cfg.name} already exists (use interface.mode "existing" to reuse it)`);
  }
  // Same process group as the agent: whatever takes the agent's group down (a service manager, a
  // terminal's Ctrl-C) takes wireguard-go with it, so no orphan keeps the interface after a crash.
  const child: ChildProcess = spawn(cfg.wireguardGo, ['-f', cfg.name], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  let exited: Error | null = null;
  const exit = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      exited = new InterfaceError(`cannot run ${cfg.wireguardGo}: ${err.message}`, { cause: err });
      resolve();
    });
    child.once('exit', (code, signal) => {
      exited ??= new InterfaceError(`${cfg.wireguardGo} exited (${signal ?? code}): ${stderr.trim()}`);
      resolve();
    });
  });
  const close = async () => {
    if (!exited) {
      child.kill('SIGTERM'); // wireguard-go removes its socket and TUN device on SIGTERM
      const done = await Promise.race([exit.then(() => true), o.clock.sleep(o.timeoutMs).then(() => false)]);
      if (!done) {
        child.kill('SIGKILL');
        await exit;
      }
    }
    rmSync(socket, { force: true }); // left behind when it had to be killed
    if (await linkExists(cfg.name)) await run(['ip', 'link', 'delete', 'dev', cfg.name]).catch(() => {});
    o.logger.info('interface-removed', { name: cfg.name });
  };
  try {
    const ready = await waitFor(
      () => existsSync(socket),
      o.timeoutMs,
      o.clock,
      () => exited,
    );
    if (!ready) throw new InterfaceError(`${cfg.wireguardGo} did not create ${socket} within ${o.timeoutMs} ms`);
    await assignAddress(cfg);
  } catch (err) {
    await close();
    throw err;
  }
  o.logger.info('interface-created', { name: cfg.name, mode: 'wireguard-go', pid: child.pid, address: cfg.address });
  return { name: cfg.name, device: new UapiDevice(cfg.name, { socketPath: socket }), owned: true, close };
}

/** `ip link add <name> type wireguard`: fails where the kernel has no WireGuard module. */
async function openKernel(cfg: AgentConfig['interface'], o: Required<OpenInterfaceOptions>): Promise<WgInterface> {
  if (await linkExists(cfg.name)) {
    throw new InterfaceError(`interface ${cfg.name} already exists (use interface.mode "existing" to reuse it)`);
  }
  await run(['ip', 'link', 'add', 'dev', cfg.name, 'type', 'wireguard']).catch((err: unknown) => {
    throw new InterfaceError(`no kernel WireGuard (${toError(err).message}); use interface.mode "wireguard-go"`);
  });
  const close = async () => {
    await run(['ip', 'link', 'delete', 'dev', cfg.name]).catch(() => {});
    o.logger.info('interface-removed', { name: cfg.name });
  };
  try {
    await assignAddress(cfg);
  } catch (err) {
    await close();
    throw err;
  }
  o.logger.info('interface-created', { name: cfg.name, mode: 'kernel', address: cfg.address });
  return { name: cfg.name, device: new WgCliDevice(cfg.name), owned: true, close };
}

/**
 * Creates (or, in mode `existing`, adopts) the WireGuard interface of the config. Everything this
 * creates, `close()` removes; an adopted interface is left as it was found (minus our peers).
 */
export async function openInterface(
  cfg: AgentConfig['interface'],
  options: OpenInterfaceOptions = {},
): Promise<WgInterface> {
  const o = { clock: systemClock, logger: silentLogger, timeoutMs: 5000, ...options };
  if (cfg.mode === 'wireguard-go') return openWireguardGo(cfg, o);
  if (cfg.mode === 'kernel') return openKernel(cfg, o);
  const uapi = cfg.uapiSocket !== null && existsSync(cfg.uapiSocket);
  if (!uapi && !(await linkExists(cfg.name))) {
    throw new InterfaceError(`interface ${cfg.name} not found (mode "existing": no UAPI socket, no kernel link)`);
  }
  o.logger.info('interface-adopted', { name: cfg.name, backend: uapi ? 'uapi' : 'wg' });
  const device = uapi ? new UapiDevice(cfg.name, { socketPath: cfg.uapiSocket! }) : new WgCliDevice(cfg.name);
  return { name: cfg.name, device, owned: false, close: async () => {} };
}
