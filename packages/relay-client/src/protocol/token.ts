import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { MeshError } from '@mesh/core';
import { MAX_TOKEN_SIZE } from './constants.js';

/** Token v2 algorithm byte. Only HMAC-SHA256 (1) exists. */
export const TOKEN_ALGO_HMAC_SHA256 = 1;
const SIGNATURE_SIZE = 32;
/** NetBird requires at least 10 payload characters (a unix timestamp in seconds). */
const MIN_PAYLOAD = 10;
const MAX_PAYLOAD = MAX_TOKEN_SIZE - 1 - SIGNATURE_SIZE;
const DIGITS = /^[0-9]+$/;
/** NetBird's management default: 12 h. */
export const DEFAULT_TOKEN_TTL_MS = 12 * 60 * 60 * 1000;

/**
 * The HMAC key both sides use: SHA-256 of the shared relay secret (the secret itself is never the key).
 * Precompute it once on a server.
 */
export function relayTokenKey(secret: string | Uint8Array): RelayTokenKey {
  return { hmacKey: createHash('sha256').update(secret).digest() };
}

/** Options of generateRelayToken. */
export interface GenerateTokenOptions {
  /** How long the token stays valid. Default DEFAULT_TOKEN_TTL_MS. */
  ttlMs?: number;
  /** Wall-clock ms (default Date.now()). */
  now?: number;
}

/**
 * A v2 token: `[1][HMAC-SHA256(key = SHA-256(secret), payload)][payload]`, payload = ASCII decimal
 * unix expiry in seconds. This is what goes after the peer id in the auth message.
 */
export function generateRelayToken(
  secret: string | Uint8Array | RelayTokenKey,
  options: GenerateTokenOptions = {},
): Buffer {
  const { ttlMs = DEFAULT_TOKEN_TTL_MS, now = Date.now() } = options;
  const expiry = Math.floor((now + ttlMs) / 1000);
  const payload = Buffer.from(String(expiry), 'ascii');
  return encodeRelayToken({ algo: TOKEN_ALGO_HMAC_SHA256, signature: sign(keyOf(secret), payload), payload });
}

/** A precomputed key (see relayTokenKey), so a server does not hash the secret per connection. */
export interface RelayTokenKey {
  /** SHA-256 of the shared secret. */
  readonly hmacKey: Buffer;
}

function keyOf(secret: string | Uint8Array | RelayTokenKey): Buffer {
  return typeof secret === 'object' && 'hmacKey' in secret ? secret.hmacKey : relayTokenKey(secret).hmacKey;
}

function sign(key: Buffer, payload: Uint8Array): Buffer {
  return createHmac('sha256', key).update(payload).digest();
}

/** The three fields of a binary token. */
export interface RelayTokenParts {
  /** Algorithm byte (TOKEN_ALGO_HMAC_SHA256). */
  algo: number;
  /** The HMAC of the payload. */
  signature: Uint8Array;
  /** The signed payload (ASCII decimal expiry in unix seconds). */
  payload: Uint8Array;
}

/** Concatenates the parts into a binary token (no validation). */
export function encodeRelayToken(parts: RelayTokenParts): Buffer {
  return Buffer.concat([Buffer.from([parts.algo]), parts.signature, parts.payload]);
}

/**
 * Builds the binary token from what NetBird's management ships: `{ payload, signature (base64) }`.
 */
export function relayTokenFromManagement(token: { payload: string; signature: string }): Buffer {
  const signature = Buffer.from(token.signature, 'base64');
  if (signature.length !== SIGNATURE_SIZE || signature.toString('base64') !== token.signature) {
    throw new InvalidRelayTokenError('malformed', 'the signature is not base64 of 32 bytes');
  }
  return encodeRelayToken({ algo: TOKEN_ALGO_HMAC_SHA256, signature, payload: Buffer.from(token.payload, 'utf8') });
}

/** Why verifyRelayToken rejected a token. */
export type TokenRejection = 'malformed' | 'oversize' | 'algorithm' | 'signature' | 'payload' | 'expired';
/** The result of verifyRelayToken: valid with its expiry (ms), or invalid with the reason. */
export type TokenVerdict = { valid: true; expiresAt: number } | { valid: false; reason: TokenRejection };

/** Options of verifyRelayToken. */
export interface VerifyTokenOptions {
  /** Wall-clock ms (default Date.now()). */
  now?: number;
}

/**
 * Checks a v2 token: the signature first (constant time), then expiry (valid while now ≤ expiry,
 * in whole seconds). Never throws; `expiresAt` is in ms.
 */
export function verifyRelayToken(
  token: Uint8Array,
  secret: string | Uint8Array | RelayTokenKey,
  options: VerifyTokenOptions = {},
): TokenVerdict {
  if (!(token instanceof Uint8Array) || token.length < 1 + SIGNATURE_SIZE) return { valid: false, reason: 'malformed' };
  if (token.length > MAX_TOKEN_SIZE) return { valid: false, reason: 'oversize' };
  if (token[0] !== TOKEN_ALGO_HMAC_SHA256) return { valid: false, reason: 'algorithm' };
  const signature = token.subarray(1, 1 + SIGNATURE_SIZE);
  const payload = token.subarray(1 + SIGNATURE_SIZE);
  if (!timingSafeEqual(signature, sign(keyOf(secret), payload))) return { valid: false, reason: 'signature' };
  const text = Buffer.from(payload).toString('latin1');
  if (text.length < MIN_PAYLOAD || text.length > MAX_PAYLOAD || !DIGITS.test(text)) {
    return { valid: false, reason: 'payload' };
  }
  const expirySeconds = Number(text);
  if (!Number.isSafeInteger(expirySeconds)) return { valid: false, reason: 'payload' };
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  if (nowSeconds > expirySeconds) return { valid: false, reason: 'expired' };
  return { valid: true, expiresAt: expirySeconds * 1000 };
}

/** A token that cannot be used (bad management input): code `ERR_INVALID_RELAY_TOKEN`. */
export class InvalidRelayTokenError extends MeshError {
  /** The `code` every error of this class carries. */
  static readonly code = 'ERR_INVALID_RELAY_TOKEN';
  /** Why the token cannot be used. */
  readonly reason: TokenRejection;
  constructor(reason: TokenRejection, message: string) {
    super(InvalidRelayTokenError.code, `invalid relay token: ${message}`);
    this.reason = reason;
  }
}
