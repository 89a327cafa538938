import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type LogLevel, PeerKey, toError } from '@mesh/core';
import type { HostPort, TurnServerConfig } from '@mesh/ice-worker';
import { generateRelayToken } from '@mesh/relay-client';
import { publicKeyFromPrivate } from '@mesh/wg-control';
import { defaultControlSocket } from './control.js';
import { ConfigError } from './errors.js';
import type { MinimalAgentConfig } from './minimal.js';

/** How the agent gets its WireGuard interface (README, "interface.mode"). */
export type InterfaceMode = 'wireguard-go' | 'kernel' | 'existing';

/** A validated config: every field checked, defaults filled in, keys parsed. */
export interface AgentConfig {
  privateKey: string;
  publicKey: PeerKey;
  interface: {
    name: string;
    /** The overlay address with its prefix, e.g. `100.64.0.1/24`. */
    address: string;
    listenPort: number;
    mtu: number;
    mode: InterfaceMode;
    /** UAPI socket of a userspace device (wireguard-go, existing); null → the kernel `wg` CLI. */
    uapiSocket: string | null;
    wireguardGo: string;
  };
  signal: { url: string };
  /** Null: no relay (ICE only). `token` is the base64 token, or a function minting one from the secret. */
  relay: { urls: string[]; token: string | null; secret: string | null } | null;
  /** IceWorker options as they are: absent = none (no STUN: host candidates only). */
  ice: { stun?: HostPort; turn?: TurnServerConfig };
  peers: { publicKey: PeerKey; allowedIps: string[] }[];
  control: { socket: string };
  metrics: { host: string; port: number } | null;
  /**
   * How the agent watches the host's network (new addresses, default route, offline): `auto` = the
   * Linux `ip monitor` watcher (polling where `ip` is missing), `poll` = polling only, `off` = none.
   */
  network: { monitor: NetworkMonitorMode };
  /** The same fields the core loop reads (`MinimalAgentConfig`), so every one is validated here. */
  tuning: MinimalAgentConfig['tuning'];
}

export const DEFAULT_TUNING: AgentConfig['tuning'] = {
  persistentKeepaliveSec: 25,
  probeIntervalMs: 1000,
  trustWindowMs: 3000,
  firstHandshakeTimeoutMs: 30_000,
  staleAfterMs: 210_000,
  logLevel: 'info',
};

/** `network.monitor` values. */
export type NetworkMonitorMode = 'auto' | 'poll' | 'off';
const NETWORK_MONITOR_MODES: readonly NetworkMonitorMode[] = ['auto', 'poll', 'off'];

const KEY_RE = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

type Json = Record<string, unknown>;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `the string ${JSON.stringify(value)}` : `a ${typeof value}`;
}

/** Walks one JSON object, naming every field it complains about by its full path. */
class Fields {
  constructor(
    readonly path: string,
    readonly obj: Json,
  ) {}

  static of(path: string, value: unknown): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConfigError(path, `expected an object, got ${describe(value)}`);
    }
    return new Fields(path, value as Json);
  }

  /** Unknown fields are errors: a typo ("allowedIPs") would otherwise silently drop a setting. */
  only(...known: string[]): this {
    for (const key of Object.keys(this.obj)) {
      if (known.includes(key)) continue;
      const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
      throw new ConfigError(`${this.path}.${key}`, `unknown field${near ? ` (did you mean "${near}"?)` : ''}`);
    }
    return this;
  }

  at(key: string): string {
    return `${this.path}.${key}`;
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined;
  }

  raw(key: string, required: boolean): unknown {
    const v = this.obj[key];
    if (v === undefined && required) throw new ConfigError(this.at(key), 'missing (required)');
    return v;
  }

  object(key: string): Fields;
  object(key: string, optional: 'optional'): Fields | null;
  object(key: string, optional?: 'optional'): Fields | null {
    const v = this.raw(key, optional === undefined);
    return v === undefined ? null : Fields.of(this.at(key), v);
  }

  string(key: string): string;
  string(key: string, optional: 'optional'): string | null;
  string(key: string, optional?: 'optional'): string | null {
    const v = this.raw(key, optional === undefined);
    if (v === undefined) return null;
    if (typeof v !== 'string') throw new ConfigError(this.at(key), `expected a string, got ${describe(v)}`);
    if (v.trim() === '') throw new ConfigError(this.at(key), 'must not be empty');
    return v;
  }

  int(key: string, min: number, max: number, fallback?: number): number {
    const v = this.raw(key, fallback === undefined);
    if (v === undefined) return fallback!;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new ConfigError(this.at(key), `expected an integer, got ${describe(v)}`);
    }
    if (v < min || v > max) throw new ConfigError(this.at(key), `${v} is out of range ${min}..${max}`);
    return v;
  }

  array(key: string, optional?: 'optional'): { path: string; value: unknown }[] {
    const v = this.raw(key, optional === undefined);
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new ConfigError(this.at(key), `expected an array, got ${describe(v)}`);
    return v.map((value, i) => ({ path: `${this.at(key)}[${i}]`, value }));
  }
}

function wgKey(path: string, value: unknown, secret: boolean): string {
  if (typeof value !== 'string') throw new ConfigError(path, `expected a WireGuard key string, got ${describe(value)}`);
  const key = value.trim();
  if (!KEY_RE.test(key)) {
    // Never echo a private key, even a broken one.
    const shown = secret ? '' : ` ${JSON.stringify(value)}`;
    throw new ConfigError(path, `invalid WireGuard key${shown}: expected 44 base64 characters encoding 32 bytes`);
  }
  return key;
}

/** `a.b.c.d/n` or `v6/n`; `host` also requires a host address (not the network's all-zero one). */
function cidr(path: string, value: unknown): string {
  const bad = () => new ConfigError(path, `invalid CIDR ${JSON.stringify(value)}: expected e.g. 100.64.0.2/32`);
  if (typeof value !== 'string') throw bad();
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(value);
  if (!m) throw bad();
  const family = isIP(m[1]!);
  if (family === 0 || Number(m[2]) > (family === 4 ? 32 : 128)) throw bad();
  return `${m[1]!.toLowerCase()}/${Number(m[2])}`;
}

function url(path: string, value: unknown, schemes: string[]): string {
  if (typeof value !== 'string') throw new ConfigError(path, `expected a URL string, got ${describe(value)}`);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(path, `invalid URL ${JSON.stringify(value)}`);
  }
  const scheme = parsed.protocol.slice(0, -1);
  if (!schemes.includes(scheme)) {
    throw new ConfigError(
      path,
      `unsupported scheme "${scheme}:" in ${JSON.stringify(value)}: expected ${schemes.join(', ')}`,
    );
  }
  if (parsed.hostname === '') throw new ConfigError(path, `no host in ${JSON.stringify(value)}`);
  return value;
}

function hostPort(path: string, text: string, defaultPort: number | null): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/?#]+))(?::(\d{1,5}))?$/.exec(text);
  const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
  if (!m || port === null || port < 1 || port > 65535) {
    throw new ConfigError(path, `invalid address ${JSON.stringify(text)}: expected host:port`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

/** `stun:host[:port]` (RFC 7064); `turn:host[:port][?transport=udp|tcp]` (RFC 7065). */
function iceServer(path: string, value: unknown, scheme: 'stun' | 'turn'): HostPort & { transport?: 'udp' | 'tcp' } {
  if (typeof value !== 'string')
    throw new ConfigError(path, `expected a ${scheme}: URL string, got ${describe(value)}`);
  const m = new RegExp(`^${scheme}:([^?]+)(?:\\?transport=(udp|tcp))?$`).exec(value);
  if (!m) {
    throw new ConfigError(
      path,
      `invalid ${scheme.toUpperCase()} URL ${JSON.stringify(value)}: expected ${scheme}:host:port`,
    );
  }
  const hp = hostPort(path, m[1]!, 3478);
  return m[2] ? { ...hp, transport: m[2] as 'udp' | 'tcp' } : hp;
}

function readKeyFile(path: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code ?? toError(err).message;
    throw new ConfigError(path, `cannot read ${JSON.stringify(file)} (${code})`, { cause: err });
  }
  return wgKey(`${path} (contents of ${file})`, text, true);
}

export interface ParseOptions {
  /** Relative `privateKeyFile` paths are resolved against this directory (the config file's). */
  baseDir?: string;
}

/**
 * Validates a parsed config file. Throws `ConfigError` (`ERR_AGENT_CONFIG`) naming the first bad
 * field and why; nothing is started before this returns.
 */
export function parseConfig(raw: unknown, options: ParseOptions = {}): AgentConfig {
  const root = Fields.of('config', raw).only(
    'privateKey',
    'privateKeyFile',
    'interface',
    'signal',
    'relay',
    'ice',
    'peers',
    'control',
    'metrics',
    'network',
    'tuning',
  );

  if (root.has('privateKey') && root.has('privateKeyFile')) {
    throw new ConfigError('config.privateKeyFile', 'give either privateKey or privateKeyFile, not both');
  }
  let privateKey: string;
  if (root.has('privateKeyFile')) {
    const file = root.string('privateKeyFile');
    privateKey = readKeyFile(
      root.at('privateKeyFile'),
      isAbsolute(file) ? file : resolve(options.baseDir ?? '.', file),
    );
  } else {
    if (!root.has('privateKey'))
      throw new ConfigError('config.privateKey', 'missing (give privateKey or privateKeyFile)');
    privateKey = wgKey(root.at('privateKey'), root.raw('privateKey', true), true);
  }
  const publicKey = publicKeyFromPrivate(privateKey);

  const ifc = root
    .object('interface')
    .only('name', 'address', 'listenPort', 'mtu', 'mode', 'uapiSocket', 'wireguardGo');
  const name = ifc.string('name');
  if (!IFNAME_RE.test(name)) {
    throw new ConfigError(ifc.at('name'), `invalid interface name ${JSON.stringify(name)}: 1-15 of [A-Za-z0-9_.-]`);
  }
  const address = cidr(ifc.at('address'), ifc.raw('address', true));
  const mode = (ifc.string('mode', 'optional') ?? 'wireguard-go') as InterfaceMode;
  if (!['wireguard-go', 'kernel', 'existing'].includes(mode)) {
    throw new ConfigError(
      ifc.at('mode'),
      `expected "wireguard-go", "kernel" or "existing", got ${JSON.stringify(mode)}`,
    );
  }
  const socketPath = ifc.string('uapiSocket', 'optional');
  if (socketPath !== null && mode === 'kernel') {
    throw new ConfigError(ifc.at('uapiSocket'), 'a kernel interface has no UAPI socket (mode "kernel")');
  }
  const iface: AgentConfig['interface'] = {
    name,
    address,
    listenPort: ifc.int('listenPort', 1, 65535, 51820),
    mtu: ifc.int('mtu', 576, 9000, 1280),
    mode,
    uapiSocket: mode === 'kernel' ? null : (socketPath ?? `/var/run/wireguard/${name}.sock`),
    wireguardGo: ifc.string('wireguardGo', 'optional') ?? 'wireguard-go',
  };

  const sig = root.object('signal').only('url');
  const signal = { url: url(sig.at('url'), sig.raw('url', true), ['ws', 'wss']) };

  let relay: AgentConfig['relay'] = null;
  const rel = root.object('relay', 'optional')?.only('urls', 'secret', 'token') ?? null;
  if (rel) {
    const urls = rel.array('urls').map(({ path, value }) => url(path, value, ['rel', 'rels', 'ws', 'wss']));
    if (urls.length === 0) throw new ConfigError(rel.at('urls'), 'needs at least one relay URL');
    if (rel.has('secret') === rel.has('token')) {
      throw new ConfigError(rel.at('secret'), 'give exactly one of relay.secret and relay.token');
    }
    const token = rel.string('token', 'optional');
    if (token !== null && !/^[A-Za-z0-9+/]+={0,2}$/.test(token)) {
      throw new ConfigError(rel.at('token'), 'expected the base64 relay token');
    }
    relay = { urls, token, secret: rel.string('secret', 'optional') };
  }

  const ice: AgentConfig['ice'] = {};
  const iceCfg = root.object('ice', 'optional')?.only('stun', 'turn') ?? null;
  if (iceCfg) {
    // IceWorker runs one STUN and one TURN server per session: the first entry of each is used.
    const stun = iceCfg.array('stun', 'optional').map(({ path, value }) => iceServer(path, value, 'stun'));
    if (stun[0]) ice.stun = stun[0];
    const turn = iceCfg.array('turn', 'optional').map(({ path, value }) => {
      const t = Fields.of(path, value).only('url', 'username', 'password');
      const server = iceServer(t.at('url'), t.raw('url', true), 'turn');
      return { ...server, username: t.string('username'), password: t.string('password') };
    });
    if (turn[0]) ice.turn = turn[0];
  }

  const seen = new Map<string, string>();
  const routes = new Map<string, string>();
  const peers = root.array('peers').map(({ path, value }) => {
    const p = Fields.of(path, value).only('publicKey', 'allowedIps');
    const keyText = wgKey(p.at('publicKey'), p.raw('publicKey', true), false);
    const key = PeerKey.parse(keyText);
    if (key.equals(publicKey)) throw new ConfigError(p.at('publicKey'), "is this agent's own public key");
    const dup = seen.get(key.base64);
    if (dup) throw new ConfigError(p.at('publicKey'), `duplicate peer (same key as ${dup})`);
    seen.set(key.base64, path);
    const allowedIps = p.array('allowedIps').map(({ path: ipPath, value: v }) => {
      const c = cidr(ipPath, v);
      // WireGuard gives a route to one peer only: a second claim would silently move it.
      const owner = routes.get(c);
      if (owner) throw new ConfigError(ipPath, `${c} is already routed to ${owner}`);
      routes.set(c, path);
      return c;
    });
    if (allowedIps.length === 0) throw new ConfigError(p.at('allowedIps'), 'needs at least one CIDR');
    return { publicKey: key, allowedIps };
  });

  const ctl = root.object('control', 'optional')?.only('socket') ?? null;
  const controlSocket = ctl?.string('socket', 'optional') ?? defaultControlSocket(name);
  if (!isAbsolute(controlSocket)) throw new ConfigError('config.control.socket', 'must be an absolute path');

  const met = root.object('metrics', 'optional')?.only('listen') ?? null;
  const metrics = met ? hostPort(met.at('listen'), met.string('listen'), null) : null;

  const net = root.object('network', 'optional')?.only('monitor') ?? null;
  const monitor = (net?.string('monitor', 'optional') ?? 'auto') as NetworkMonitorMode;
  if (!NETWORK_MONITOR_MODES.includes(monitor)) {
    throw new ConfigError(
      'config.network.monitor',
      `expected one of ${NETWORK_MONITOR_MODES.join(', ')}, got ${JSON.stringify(monitor)}`,
    );
  }

  const tun = root.object('tuning', 'optional') ?? Fields.of('config.tuning', {});
  tun.only(...Object.keys(DEFAULT_TUNING));
  const d = DEFAULT_TUNING;
  const logLevel = (tun.string('logLevel', 'optional') ?? d.logLevel) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(
      tun.at('logLevel'),
      `expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`,
    );
  }
  const tuning: AgentConfig['tuning'] = {
    persistentKeepaliveSec: tun.int('persistentKeepaliveSec', 1, 3600, d.persistentKeepaliveSec),
    probeIntervalMs: tun.int('probeIntervalMs', 0, 60_000, d.probeIntervalMs),
    trustWindowMs: tun.int('trustWindowMs', 500, 600_000, d.trustWindowMs),
    firstHandshakeTimeoutMs: tun.int('firstHandshakeTimeoutMs', 1000, 600_000, d.firstHandshakeTimeoutMs),
    staleAfterMs: tun.int('staleAfterMs', 1000, 3_600_000, d.staleAfterMs),
    logLevel,
  };

  return {
    privateKey,
    publicKey,
    interface: iface,
    signal,
    relay,
    ice,
    peers,
    control: { socket: controlSocket },
    metrics: metrics ? { host: metrics.host, port: metrics.port } : null,
    network: { monitor },
    tuning,
  };
}

/** The relay token for RelayManager: the configured one, or a fresh HMAC token from the secret at every dial. */
export function relayToken(relay: NonNullable<AgentConfig['relay']>): string | (() => string) {
  return relay.token ?? (() => generateRelayToken(relay.secret!).toString('base64'));
}

/** Reads and validates a config file (`ERR_AGENT_CONFIG` for every problem, the file included). */
export function loadConfig(file: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      'config',
      `cannot read ${JSON.stringify(file)} (${(err as { code?: string }).code ?? 'error'})`,
      {
        cause: err,
      },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('config', `${file} is not valid JSON: ${toError(err).message}`, { cause: err });
  }
  return parseConfig(raw, { baseDir: dirname(resolve(file)) });
}
