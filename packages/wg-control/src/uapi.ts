import { createConnection } from 'node:net';
import { abortReason, type Clock, hasCode, InvalidArgumentError, PeerKey, systemClock } from '@mesh/core';
import { DEVICE_REQUEST_TIMEOUT_MS, UAPI_MAX_BATCHED_WRITES } from './constants.js';
import {
  emptyPeerState,
  type NormalizedPeerConfig,
  publicKeyFromPrivate,
  validatePeerConfig,
  validatePort,
  validateSecretKey,
  type WgDevice,
  type WgInterfaceState,
  type WgOpOptions,
  type WgPeerConfig,
  type WgPeerState,
} from './device.js';
import { WgDeviceNotRunningError, WgErrnoError, WgErrorCodes, WgIoError, WgProtocolError } from './errors.js';
import { RequestQueue, type RequestQueueStats } from './request-queue.js';

/** Options of a UapiDevice. */
export interface UapiDeviceOptions {
  /** Default `/var/run/wireguard/<name>.sock`. */
  socketPath?: string;
  /**
   * How long the device may take to answer one request, from sending it (time waiting in this
   * device's queue does not count). When it passes, that request and every one queued behind it
   * fail with ERR_TIMEOUT. Default 5000 ms.
   */
  timeoutMs?: number;
  /** Clock for request deadlines; `systemClock` by default. */
  clock?: Clock;
}

/** Largest reply accepted (a get for ~20,000 peers); more is treated as a broken device. */
const MAX_REPLY_CHARS = 16 * 1024 * 1024;
const IFNAME = /^[A-Za-z0-9_.=+-]{1,15}$/;
const SECRET_KEYS = new Set(['private_key', 'preshared_key']);

export function validateInterfaceName(name: unknown): string {
  if (typeof name !== 'string' || !IFNAME.test(name)) {
    throw new InvalidArgumentError(`invalid interface name ${JSON.stringify(name)}: 1-15 of [A-Za-z0-9_.=+-]`);
  }
  return name;
}

/**
 * A WireGuard device behind the cross-platform UAPI (wireguard-go, boringtun): text
 * `key=value` lines over a unix socket, one connection per request (a failed `set` can leave
 * unread lines behind, so connections are never reused).
 */
export class UapiDevice implements WgDevice {
  /** Interface name. */
  readonly name: string;
  /** Path of the UAPI socket this device talks to. */
  readonly socketPath: string;
  readonly #queue: RequestQueue<string[]>;
  #derived: { privateHex: string; publicKey: PeerKey } | undefined;

  constructor(name: string, options: UapiDeviceOptions = {}) {
    this.name = validateInterfaceName(name);
    this.socketPath = options.socketPath ?? `/var/run/wireguard/${name}.sock`;
    const timeoutMs = options.timeoutMs ?? DEVICE_REQUEST_TIMEOUT_MS;
    // Peer writes waiting next to each other go as one `set=1` with a section per peer (as `wg
    // setconf` does). A refused batch is sent again one peer at a time (peer writes are idempotent),
    // so each caller gets its own errno.
    this.#queue = new RequestQueue<string[]>(options.clock ?? systemClock, timeoutMs, `UAPI request to ${name}`, {
      max: UAPI_MAX_BATCHED_WRITES,
      run: (parts, signal) => this.#sendSet('configure peers', parts.flat(), signal),
      retrySingly: (err) => hasCode(err, WgErrorCodes.ERRNO),
    });
  }

  /** Requests sent, reads that shared one, batched writes, timeouts, longest queue wait (cumulative). */
  get stats(): RequestQueueStats {
    return this.#queue.stats;
  }

  async getInterface(options: WgOpOptions = {}): Promise<WgInterfaceState> {
    return this.#queue.runShared(
      'get',
      async (signal) => this.#parseGet(await uapiRequest(this.socketPath, this.name, 'get=1\n\n', signal)),
      options,
    );
  }

  async getPeer(publicKey: PeerKey | string, options: WgOpOptions = {}): Promise<WgPeerState | null> {
    const key = PeerKey.from(publicKey);
    const state = await this.getInterface(options);
    return state.peers.find((p) => p.publicKey.equals(key)) ?? null;
  }

  async setPrivateKey(privateKey: string, options: WgOpOptions = {}): Promise<void> {
    const hex = Buffer.from(validateSecretKey(privateKey, 'private key'), 'base64').toString('hex');
    return this.#set('setPrivateKey', [`private_key=${hex}`], options);
  }

  async setListenPort(port: number, options: WgOpOptions = {}): Promise<void> {
    return this.#set('setListenPort', [`listen_port=${validatePort(port, 'listen port')}`], options);
  }

  async upsertPeer(config: WgPeerConfig, options: WgOpOptions = {}): Promise<void> {
    return this.#peerSet('upsertPeer', peerSetLines(validatePeerConfig(config)), options);
  }

  async removePeer(publicKey: PeerKey | string, options: WgOpOptions = {}): Promise<void> {
    return this.#peerSet('removePeer', [`public_key=${PeerKey.from(publicKey).hex}`, 'remove=true'], options);
  }

  #set(operation: string, lines: string[], options: WgOpOptions): Promise<void> {
    return this.#queue.run((signal) => this.#sendSet(operation, lines, signal), options);
  }

  #peerSet(operation: string, lines: string[], options: WgOpOptions): Promise<void> {
    return this.#queue.runBatched(lines, (signal) => this.#sendSet(operation, lines, signal), options);
  }

  async #sendSet(operation: string, lines: string[], signal: AbortSignal): Promise<void> {
    const reply = await uapiRequest(this.socketPath, this.name, `set=1\n${lines.join('\n')}\n\n`, signal);
    const errno = parseErrno(reply);
    if (errno !== 0) throw new WgErrnoError(operation, errno, `${this.name}: ${redact(lines)}`);
    if (reply.length > 1) throw new WgProtocolError(`unexpected lines in the reply to ${operation}: ${reply[0]}`);
  }

  #parseGet(lines: string[]): WgInterfaceState {
    const errno = parseErrno(lines);
    if (errno !== 0) throw new WgErrnoError('getInterface', errno, this.name);
    const { privateHex, listenPort, peers } = parseGetReply(lines.slice(0, -1));
    return { publicKey: privateHex ? this.#publicKeyOf(privateHex) : null, listenPort, peers };
  }

  // Deriving costs an X25519 operation; the private key rarely changes, so remember the last one.
  #publicKeyOf(privateHex: string): PeerKey {
    if (this.#derived?.privateHex !== privateHex) {
      this.#derived = {
        privateHex,
        publicKey: publicKeyFromPrivate(Buffer.from(privateHex, 'hex').toString('base64')),
      };
    }
    return this.#derived.publicKey;
  }
}

/** The `set` lines for one peer, in the order the UAPI expects (public_key first). */
export function peerSetLines(cfg: NormalizedPeerConfig): string[] {
  const lines = [`public_key=${cfg.publicKey.hex}`];
  if (cfg.presharedKey !== undefined)
    lines.push(`preshared_key=${Buffer.from(cfg.presharedKey, 'base64').toString('hex')}`);
  if (cfg.endpoint !== undefined) lines.push(`endpoint=${cfg.endpoint}`);
  if (cfg.persistentKeepalive !== undefined) lines.push(`persistent_keepalive_interval=${cfg.persistentKeepalive}`);
  if (cfg.allowedIps !== undefined) {
    if (cfg.replaceAllowedIps) lines.push('replace_allowed_ips=true');
    for (const ip of cfg.allowedIps) lines.push(`allowed_ip=${ip}`);
  }
  return lines;
}

function redact(lines: string[]): string {
  return lines
    .map((l) => {
      const k = l.slice(0, l.indexOf('='));
      return SECRET_KEYS.has(k) ? `${k}=(redacted)` : l;
    })
    .join(' ');
}

/** The reply's final `errno=N` line as a number. */
export function parseErrno(lines: string[]): number {
  const last = lines.at(-1);
  const m = last === undefined ? null : /^errno=(-?\d+)$/.exec(last);
  if (!m) throw new WgProtocolError(`UAPI reply does not end with errno=N (last line ${JSON.stringify(last)})`);
  return Number(m[1]);
}

const HEX32 = /^[0-9a-f]{64}$/;
const ZERO_HEX = '0'.repeat(64);

function uint(key: string, value: string): number {
  if (!/^\d{1,20}$/.test(value))
    throw new WgProtocolError(`UAPI: ${key} is not an unsigned integer: ${JSON.stringify(value)}`);
  return Number(value);
}

/** Parses the key=value lines of a `get=1` reply (without the errno line). */
export function parseGetReply(lines: string[]): {
  privateHex: string | null;
  listenPort: number;
  peers: WgPeerState[];
} {
  let privateHex: string | null = null;
  let listenPort = 0;
  const peers: WgPeerState[] = [];
  let peer: (WgPeerState & { hsSec: number; hsNsec: number }) | undefined;
  const finish = () => {
    if (!peer) return;
    const { hsSec, hsNsec, ...state } = peer;
    state.lastHandshakeAt = hsSec * 1000 + Math.floor(hsNsec / 1e6);
    peers.push(state);
  };
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq <= 0) throw new WgProtocolError(`UAPI: malformed line ${JSON.stringify(line.slice(0, 80))}`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'public_key') {
      if (!HEX32.test(value)) throw new WgProtocolError(`UAPI: bad public_key ${JSON.stringify(value)}`);
      finish();
      peer = {
        ...emptyPeerState(PeerKey.fromHex(value)),
        hsSec: 0,
        hsNsec: 0,
      };
      continue;
    }
    if (!peer) {
      if (key === 'private_key') {
        if (!HEX32.test(value)) throw new WgProtocolError('UAPI: bad private_key');
        privateHex = value === ZERO_HEX ? null : value;
      } else if (key === 'listen_port') listenPort = uint(key, value);
      // fwmark and keys added by newer implementations are not part of WgInterfaceState.
      continue;
    }
    switch (key) {
      case 'preshared_key':
        if (!HEX32.test(value)) throw new WgProtocolError('UAPI: bad preshared_key');
        peer.presharedKey = value !== ZERO_HEX;
        break;
      case 'endpoint':
        peer.endpoint = value;
        break;
      case 'allowed_ip':
        if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(value))
          throw new WgProtocolError(`UAPI: bad allowed_ip ${JSON.stringify(value)}`);
        peer.allowedIps.push(value);
        break;
      case 'last_handshake_time_sec':
        peer.hsSec = uint(key, value);
        break;
      case 'last_handshake_time_nsec':
        peer.hsNsec = uint(key, value);
        break;
      case 'rx_bytes':
        peer.rxBytes = uint(key, value);
        break;
      case 'tx_bytes':
        peer.txBytes = uint(key, value);
        break;
      case 'persistent_keepalive_interval':
        peer.persistentKeepalive = uint(key, value);
        break;
      default:
        break; // protocol_version and future keys
    }
  }
  finish();
  return { privateHex, listenPort, peers };
}

/**
 * Sends one request on a fresh connection and returns the reply's lines (up to and including
 * `errno=N`, without the blank terminator).
 */
export function uapiRequest(
  socketPath: string,
  device: string,
  request: string,
  signal: AbortSignal,
): Promise<string[]> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    socket.setEncoding('utf8');
    let connected = false;
    let text = '';
    let settled = false;
    const done = (err: Error | null, lines?: string[]) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(lines!);
    };
    const onAbort = () => done(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => {
      connected = true;
      socket.write(request);
    });
    socket.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\n\n');
      if (end >= 0) done(null, text.slice(0, end).split('\n'));
      else if (text.length > MAX_REPLY_CHARS)
        done(new WgProtocolError(`UAPI reply from ${device} exceeds ${MAX_REPLY_CHARS} characters`));
    });
    socket.on('end', () =>
      done(new WgProtocolError(`UAPI reply from ${device} ended before its terminator (${text.length} chars)`)),
    );
    socket.on('close', () => done(new WgProtocolError(`UAPI connection to ${device} closed before a reply`)));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTSOCK')) {
        done(
          new WgDeviceNotRunningError(
            device,
            `WireGuard device ${device} is not running (${err.code} on ${socketPath})`,
            { cause: err },
          ),
        );
      } else if (connected && text.length > 0) {
        done(new WgProtocolError(`UAPI reply from ${device} cut short: ${err.message}`, { cause: err }));
      } else {
        done(new WgIoError(`UAPI socket ${socketPath}: ${err.message}`, { cause: err }));
      }
    });
  });
}
