import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { abortReason, type Clock, PeerKey, systemClock } from '@mesh/core';
import { DEVICE_REQUEST_TIMEOUT_MS } from './constants.js';
import {
  validatePeerConfig,
  validatePort,
  validateSecretKey,
  type WgDevice,
  type WgInterfaceState,
  type WgOpOptions,
  type WgPeerConfig,
  type WgPeerState,
} from './device.js';
import { errnoFromMessage, WgCommandError, WgDeviceNotRunningError, WgErrnoError, WgProtocolError } from './errors.js';
import { RequestQueue, type RequestQueueStats } from './request-queue.js';
import { validateInterfaceName } from './uapi.js';

/** Options of a WgCliDevice. */
export interface WgCliDeviceOptions {
  /** Path to the `wg` tool. Default `wg` (looked up on PATH). */
  wgPath?: string;
  /** How long one command may run (time waiting in this device's queue does not count). Default 5000 ms. */
  timeoutMs?: number;
  /** Clock for command deadlines; `systemClock` by default. */
  clock?: Clock;
}

/**
 * A WireGuard device driven through the `wg` tool (`wg show <if> dump`, `wg set`): works for
 * kernel interfaces and userspace ones alike. Secrets go to `wg` in a key file readable only by us
 * (removed right after), never in argv where any local user could read them. (Not /dev/stdin: Node
 * gives children a socket, not a pipe, and `wg` cannot fopen that.)
 */
export class WgCliDevice implements WgDevice {
  /** Interface name. */
  readonly name: string;
  readonly #wg: string;
  readonly #queue: RequestQueue;

  constructor(name: string, options: WgCliDeviceOptions = {}) {
    this.name = validateInterfaceName(name);
    this.#wg = options.wgPath ?? 'wg';
    this.#queue = new RequestQueue(
      options.clock ?? systemClock,
      options.timeoutMs ?? DEVICE_REQUEST_TIMEOUT_MS,
      `wg command on ${name}`,
    );
  }

  /** Commands run, reads that shared one, timeouts, longest queue wait (cumulative). */
  get stats(): RequestQueueStats {
    return this.#queue.stats;
  }

  async getInterface(options: WgOpOptions = {}): Promise<WgInterfaceState> {
    return this.#queue.runShared('get', (signal) => this.#dump(signal), options);
  }

  async getPeer(publicKey: PeerKey | string, options: WgOpOptions = {}): Promise<WgPeerState | null> {
    const key = PeerKey.from(publicKey);
    const state = await this.getInterface(options);
    return state.peers.find((p) => p.publicKey.equals(key)) ?? null;
  }

  async setPrivateKey(privateKey: string, options: WgOpOptions = {}): Promise<void> {
    const key = validateSecretKey(privateKey, 'private key');
    return this.#queue.run(
      (signal) => withSecretFile(key, (file) => this.#set('setPrivateKey', ['private-key', file], signal)),
      options,
    );
  }

  async setListenPort(port: number, options: WgOpOptions = {}): Promise<void> {
    const p = validatePort(port, 'listen port');
    return this.#queue.run((signal) => this.#set('setListenPort', ['listen-port', String(p)], signal), options);
  }

  async upsertPeer(config: WgPeerConfig, options: WgOpOptions = {}): Promise<void> {
    const cfg = validatePeerConfig(config);
    return this.#queue.run(async (signal) => {
      const args = ['peer', cfg.publicKey.base64];
      if (cfg.endpoint !== undefined) args.push('endpoint', cfg.endpoint);
      if (cfg.persistentKeepalive !== undefined) {
        args.push('persistent-keepalive', cfg.persistentKeepalive === 0 ? 'off' : String(cfg.persistentKeepalive));
      }
      if (cfg.allowedIps !== undefined) {
        let ips = cfg.allowedIps;
        // `wg set … allowed-ips` always replaces the list; adding means read, merge, write (safe: this
        // device's commands are serialised).
        if (!cfg.replaceAllowedIps) {
          const current = (await this.#dump(signal)).peers.find((p) => p.publicKey.equals(cfg.publicKey));
          ips = [...new Set([...(current?.allowedIps ?? []), ...ips])];
        }
        args.push('allowed-ips', ips.join(','));
      }
      const psk = cfg.presharedKey;
      if (psk === undefined) return this.#set('upsertPeer', args, signal);
      await withSecretFile(psk, (file) => this.#set('upsertPeer', [...args, 'preshared-key', file], signal));
    }, options);
  }

  async removePeer(publicKey: PeerKey | string, options: WgOpOptions = {}): Promise<void> {
    const key = PeerKey.from(publicKey);
    return this.#queue.run((signal) => this.#set('removePeer', ['peer', key.base64, 'remove'], signal), options);
  }

  async #dump(signal: AbortSignal): Promise<WgInterfaceState> {
    const out = await this.#run('getInterface', ['show', this.name, 'dump'], signal);
    return parseWgDump(out);
  }

  async #set(operation: string, args: string[], signal: AbortSignal): Promise<void> {
    await this.#run(operation, ['set', this.name, ...args], signal, args.join(' '));
  }

  #run(operation: string, args: string[], signal: AbortSignal, detail = ''): Promise<string> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const child = spawn(this.#wg, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
      let stdout = '';
      let stderr = '';
      let settled = false;
      const done = (err: Error | null) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(stdout);
      };
      const onAbort = () => {
        child.kill('SIGKILL');
        done(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      child.on('error', (err: NodeJS.ErrnoException) =>
        done(new WgCommandError(`cannot run ${this.#wg}: ${err.code ?? err.message}`, '', { cause: err })),
      );
      child.on('close', (code, sig) => {
        if (code === 0) return done(null);
        done(this.#classify(operation, stderr.trim(), code, sig, detail));
      });
    });
  }

  #classify(operation: string, stderr: string, code: number | null, sig: NodeJS.Signals | null, detail: string): Error {
    // "Protocol not supported": no kernel WireGuard, and no userspace device of that name either.
    if (
      /Unable to (access|modify) interface: (No such device|No such file or directory|Protocol not supported)/.test(
        stderr,
      )
    ) {
      return new WgDeviceNotRunningError(this.name, `WireGuard device ${this.name} is not running (${stderr})`);
    }
    const errno = /Unable to modify interface: /.test(stderr) ? errnoFromMessage(stderr) : undefined;
    if (errno !== undefined) return new WgErrnoError(operation, errno, `${this.name}: ${detail}`);
    return new WgCommandError(`${operation} on ${this.name}: wg exited with ${code ?? sig}: ${stderr}`, stderr);
  }
}

const NONE = '(none)';

/** Parses `wg show <if> dump` (tab-separated; first line the interface, then one line per peer). */
export function parseWgDump(text: string): WgInterfaceState {
  const lines = text.split('\n').filter((l) => l.length > 0);
  const head = lines[0]?.split('\t');
  if (head?.length !== 4) throw new WgProtocolError(`wg dump: bad interface line ${JSON.stringify(lines[0] ?? '')}`);
  const num = (what: string, v: string | undefined) => {
    if (v === undefined || !/^\d{1,20}$/.test(v))
      throw new WgProtocolError(`wg dump: ${what} is not a number: ${JSON.stringify(v)}`);
    return Number(v);
  };
  const key = (v: string) => {
    try {
      return PeerKey.parse(v);
    } catch (err) {
      throw new WgProtocolError(`wg dump: bad key ${JSON.stringify(v.slice(0, 50))}`, { cause: err });
    }
  };
  const peers = lines.slice(1).map((line): WgPeerState => {
    const f = line.split('\t');
    if (f.length !== 8) throw new WgProtocolError(`wg dump: peer line has ${f.length} fields, expected 8`);
    const [pub, psk, endpoint, allowed, hs, rx, tx, keepalive] = f as [string, ...string[]];
    return {
      publicKey: key(pub),
      presharedKey: psk !== NONE,
      endpoint: endpoint === NONE ? null : endpoint!,
      allowedIps: allowed === NONE ? [] : allowed!.split(','),
      lastHandshakeAt: num('latest-handshake', hs) * 1000,
      rxBytes: num('transfer-rx', rx),
      txBytes: num('transfer-tx', tx),
      persistentKeepalive: keepalive === 'off' ? 0 : num('persistent-keepalive', keepalive),
    };
  });
  const [, pub, port] = head as [string, string, string];
  return {
    publicKey: pub === NONE ? null : key(pub),
    listenPort: num('listen-port', port),
    peers,
  };
}

/** Runs `fn` with the path of a 0600 file (in a fresh 0700 directory) holding `secret`; always removes it. */
async function withSecretFile<T>(secret: string, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-wg-'));
  try {
    const file = join(dir, 'key');
    await writeFile(file, `${secret}\n`, { mode: 0o600 });
    return await fn(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
