import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { isIP } from 'node:net';
import { InvalidArgumentError, InvalidKeyError, PeerKey } from '@mesh/core';

/** What to set on one peer. Fields left undefined are not touched on an existing peer. */
export interface WgPeerConfig {
  /** The peer's public key (base64, hex or a PeerKey). */
  publicKey: PeerKey | string;
  /** `ip:port` or `[ipv6]:port` (IP literals only: the UAPI does not resolve names). */
  endpoint?: string;
  /** CIDRs. Replace the peer's list unless `replaceAllowedIps` is false (then they are added). */
  allowedIps?: string[];
  /** Default true when `allowedIps` is given. */
  replaceAllowedIps?: boolean;
  /** Seconds, 0 = off. */
  persistentKeepalive?: number;
  /** base64 32 bytes; null removes the preshared key. */
  presharedKey?: string | null;
}

/** One peer as the device reports it. */
export interface WgPeerState {
  /** The peer's public key. */
  publicKey: PeerKey;
  /** The peer's current endpoint (`ip:port`), null when none is known. */
  endpoint: string | null;
  /** The peer's allowed IPs, as CIDRs. */
  allowedIps: string[];
  /** Wall-clock ms of the latest handshake, 0 = never. (`wg show` has 1 s resolution.) */
  lastHandshakeAt: number;
  /** Bytes received from the peer. */
  rxBytes: number;
  /** Bytes sent to the peer. */
  txBytes: number;
  /** Seconds, 0 = off. */
  persistentKeepalive: number;
  /** Whether a preshared key is set (never the key itself). */
  presharedKey: boolean;
}

/** A peer the device has just been told about: no endpoint, no allowed IPs, no handshake, no traffic. */
export function emptyPeerState(publicKey: PeerKey): WgPeerState {
  return {
    publicKey,
    endpoint: null,
    allowedIps: [],
    lastHandshakeAt: 0,
    rxBytes: 0,
    txBytes: 0,
    persistentKeepalive: 0,
    presharedKey: false,
  };
}

/** The interface as the device reports it: its key, its port and its peers. */
export interface WgInterfaceState {
  /** Derived from the private key; null when none is set. */
  publicKey: PeerKey | null;
  /** UDP port WireGuard listens on; 0 when none is set. */
  listenPort: number;
  /** Every peer configured on the interface. */
  peers: WgPeerState[];
}

/** Options of every WgDevice call. */
export interface WgOpOptions {
  /** Aborts the call (it rejects with ERR_ABORTED); a request already sent may still take effect. */
  signal?: AbortSignal;
}

/**
 * One WireGuard interface. Implementations serialise their requests per device and give every
 * request a deadline; bad input is rejected (ERR_INVALID_KEY / ERR_INVALID_ARGUMENT) before
 * anything reaches the device.
 */
export interface WgDevice {
  /** Interface name, e.g. `wg0`. */
  readonly name: string;
  /** Reads the interface and all its peers. */
  getInterface(options?: WgOpOptions): Promise<WgInterfaceState>;
  /** null when the device has no such peer. */
  getPeer(publicKey: PeerKey | string, options?: WgOpOptions): Promise<WgPeerState | null>;
  /** base64 private key (32 bytes). */
  setPrivateKey(privateKey: string, options?: WgOpOptions): Promise<void>;
  /** Sets the UDP port WireGuard listens on (0 = a random one). */
  setListenPort(port: number, options?: WgOpOptions): Promise<void>;
  /** Adds the peer or updates the fields given. */
  upsertPeer(config: WgPeerConfig, options?: WgOpOptions): Promise<void>;
  /** Removes the peer; removing an absent peer is not an error. */
  removePeer(publicKey: PeerKey | string, options?: WgOpOptions): Promise<void>;
}

/** A validated peer config: every value safe to put on the wire of either backend. */
export interface NormalizedPeerConfig {
  /** The peer's public key. */
  publicKey: PeerKey;
  /** Canonical `ip:port` / `[ipv6]:port`. */
  endpoint?: string;
  /** Canonical CIDRs. */
  allowedIps?: string[];
  /** Whether `allowedIps` replaces the peer's list (true) or is added to it. */
  replaceAllowedIps: boolean;
  /** Seconds, 0 = off. */
  persistentKeepalive?: number;
  /** base64; all-zero means "remove". */
  presharedKey?: string;
}

const KEY_B64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
export const ZERO_KEY_B64 = Buffer.alloc(32).toString('base64');

/** Validates a secret key (private or preshared) without ever echoing it in the error. */
export function validateSecretKey(key: unknown, what: string): string {
  if (typeof key !== 'string' || !KEY_B64.test(key.trim())) {
    throw new InvalidKeyError(`invalid ${what}: expected 44 base64 characters encoding 32 bytes`);
  }
  return key.trim();
}

export function validatePort(port: unknown, what = 'port'): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`invalid ${what} ${String(port)}: expected an integer 0..65535`);
  }
  return port;
}

/** `ip:port` or `[ipv6]:port` → canonical text (as WireGuard prints it). */
export function validateEndpoint(endpoint: unknown): string {
  const bad = () =>
    new InvalidArgumentError(`invalid endpoint ${JSON.stringify(endpoint)}: expected ip:port or [ipv6]:port`);
  if (typeof endpoint !== 'string') throw bad();
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(endpoint) ?? /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(endpoint);
  if (!m) throw bad();
  const host = m[1]!;
  const port = Number(m[2]);
  const family = isIP(host);
  if (family === 0 || port < 1 || port > 65535) throw bad();
  return family === 6 ? `[${host.toLowerCase()}]:${port}` : `${host}:${port}`;
}

/** Validates a CIDR (`10.0.0.2/32`, `fd00::/64`) and returns its canonical text (lowercase). */
export function validateCidr(cidr: unknown): string {
  const bad = () =>
    new InvalidArgumentError(`invalid allowed IP ${JSON.stringify(cidr)}: expected a CIDR like 10.0.0.2/32`);
  if (typeof cidr !== 'string') throw bad();
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(cidr.trim());
  if (!m) throw bad();
  const family = isIP(m[1]!);
  const bits = Number(m[2]);
  if (family === 0 || bits > (family === 4 ? 32 : 128)) throw bad();
  return `${m[1]!.toLowerCase()}/${bits}`;
}

/**
 * Validates every field of a peer config, throwing ERR_INVALID_KEY / ERR_INVALID_ARGUMENT; the
 * result is safe for either backend.
 */
export function validatePeerConfig(config: WgPeerConfig): NormalizedPeerConfig {
  if (typeof config !== 'object' || config === null) throw new InvalidArgumentError('peer config must be an object');
  const out: NormalizedPeerConfig = {
    publicKey: PeerKey.from(config.publicKey),
    replaceAllowedIps: config.replaceAllowedIps ?? true,
  };
  if (config.endpoint !== undefined) out.endpoint = validateEndpoint(config.endpoint);
  if (config.allowedIps !== undefined) {
    if (!Array.isArray(config.allowedIps)) throw new InvalidArgumentError('allowedIps must be an array of CIDRs');
    out.allowedIps = config.allowedIps.map(validateCidr);
  }
  if (config.persistentKeepalive !== undefined) {
    out.persistentKeepalive = validatePort(config.persistentKeepalive, 'persistentKeepalive');
  }
  if (config.presharedKey !== undefined) {
    out.presharedKey =
      config.presharedKey === null ? ZERO_KEY_B64 : validateSecretKey(config.presharedKey, 'preshared key');
  }
  return out;
}

// PKCS#8 DER prefix of an X25519 private key; the 32 raw bytes follow.
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** The public key of a base64 private key (X25519), as WireGuard derives it. */
export function publicKeyFromPrivate(privateKey: string): PeerKey {
  const raw = Buffer.from(validateSecretKey(privateKey, 'private key'), 'base64');
  const key = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  return PeerKey.fromBytes(Buffer.from(String(jwk.x), 'base64url'));
}

/** A fresh WireGuard key pair (node:crypto X25519). */
export function generateKeyPair(): { privateKey: string; publicKey: PeerKey } {
  const { privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const priv = Buffer.from(String(jwk.d), 'base64url').toString('base64');
  return { privateKey: priv, publicKey: publicKeyFromPrivate(priv) };
}
