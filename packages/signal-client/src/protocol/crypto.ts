import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { InvalidKeyError, PeerKey } from '@mesh/core';

/** Bumped on any change to the constructions below; part of every label so versions never mix. */
export const CRYPTO_VERSION = 1;
const REGISTER_LABEL = Buffer.from(`mesh-signal/${CRYPTO_VERSION} register`);
const SEAL_LABEL = Buffer.from(`mesh-signal/${CRYPTO_VERSION} seal`);

// DER prefixes that wrap a raw 32-byte X25519 key (RFC 8410), so node:crypto can load WireGuard keys.
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

/** Size of the server's challenge nonce. */
export const NONCE_BYTES = 32;
/** Size of the registration proof (HMAC-SHA256). */
export const MAC_BYTES = 32;

/** A WireGuard (X25519) identity: the private KeyObject and the public key it implies. */
export interface Identity {
  /** The X25519 private key. */
  readonly privateKey: KeyObject;
  /** The WireGuard public key it implies. */
  readonly publicKey: PeerKey;
}

/** Loads a base64 WireGuard private key (as `wg genkey` prints it); throws ERR_INVALID_KEY. */
export function identityFromPrivateKey(base64: string): Identity {
  const raw = typeof base64 === 'string' ? Buffer.from(base64.trim(), 'base64') : Buffer.alloc(0);
  if (raw.length !== 32 || raw.toString('base64') !== base64.trim()) {
    throw new InvalidKeyError('invalid WireGuard private key: expected 44 base64 characters encoding 32 bytes');
  }
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, raw]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { privateKey, publicKey: PeerKey.fromBytes(spki.subarray(SPKI_X25519.length)) };
}

function publicKeyObject(key: PeerKey): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_X25519, key.bytes()]), format: 'der', type: 'spki' });
}

/**
 * X25519. Throws when the peer's key is a low-order point (OpenSSL refuses an all-zero secret): callers
 * treat that exactly like a failed proof, so such keys can neither register nor exchange messages.
 */
function dh(privateKey: KeyObject, publicKey: KeyObject): Buffer {
  return diffieHellman({ privateKey, publicKey });
}

function hkdf(secret: Buffer, salt: Buffer, info: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, salt, info, 32));
}

// ---- Registration proof -------------------------------------------------------------------------

/** What the server sends first: a fresh ephemeral X25519 key and a random nonce. */
export interface Challenge {
  /** The server's ephemeral X25519 public key (32 raw bytes). */
  readonly ephemeralPublic: Buffer;
  /** Random nonce the proof must cover. */
  readonly nonce: Buffer;
}

/** A challenge as the server keeps it: with the ephemeral private key it verifies the proof with. */
export interface ServerChallenge extends Challenge {
  /** The ephemeral private key; never leaves the server. */
  readonly ephemeralPrivate: KeyObject;
}

/** A fresh challenge (new ephemeral key, new nonce) for one connection. */
export function createChallenge(): ServerChallenge {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return {
    ephemeralPrivate: privateKey,
    ephemeralPublic: spki.subarray(SPKI_X25519.length),
    nonce: randomBytes(NONCE_BYTES),
  };
}

/**
 * MAC over (nonce, claimed key, server ephemeral key), keyed by HKDF of the X25519 secret between the
 * claimed key and the server's ephemeral key. Only the holder of the claimed private key (or of the
 * ephemeral private key, i.e. this server) can compute it; the fresh ephemeral key and nonce make an
 * answer useless for any other connection.
 */
function registerMac(secret: Buffer, claimed: PeerKey, challenge: Challenge): Buffer {
  const key = hkdf(secret, challenge.nonce, REGISTER_LABEL);
  return createHmac('sha256', key)
    .update(REGISTER_LABEL)
    .update(challenge.nonce)
    .update(claimed.bytes())
    .update(challenge.ephemeralPublic)
    .digest();
}

/** Client side: the proof for `challenge`. Throws (ERR_INVALID_KEY) when the server's key is unusable. */
export function answerChallenge(identity: Identity, challenge: Challenge): Buffer {
  let secret: Buffer;
  try {
    secret = dh(identity.privateKey, publicKeyObject(PeerKey.fromBytes(challenge.ephemeralPublic)));
  } catch (err) {
    throw new InvalidKeyError('the server sent an unusable ephemeral key', { cause: err });
  }
  return registerMac(secret, identity.publicKey, challenge);
}

/** Server side: true when `mac` proves possession of `claimed`'s private key. Never throws. */
export function verifyChallenge(challenge: ServerChallenge, claimed: PeerKey, mac: Buffer): boolean {
  if (mac.length !== MAC_BYTES) return false;
  let secret: Buffer;
  try {
    secret = dh(challenge.ephemeralPrivate, publicKeyObject(claimed));
  } catch {
    return false;
  }
  return timingSafeEqual(registerMac(secret, claimed, challenge), mac);
}

// ---- End-to-end sealing --------------------------------------------------------------------------

/**
 * Box layout (all in one binary blob, base64 on the wire):
 *   version(1) | sender(32) | recipient(32) | messageId(16) | timestamp ms (8, BE) | nonce(12) | ciphertext | tag(16)
 * Everything before the nonce is the AAD (with the label prepended), so the server can read who, to
 * whom, which id and when — and change none of it.
 */
export const BOX_HEADER_BYTES = 1 + 32 + 32 + 16 + 8;
const NONCE_LEN = 12;
const TAG_LEN = 16;
/** Bytes a sealed box adds to its plaintext: header, nonce and tag. */
export const BOX_OVERHEAD = BOX_HEADER_BYTES + NONCE_LEN + TAG_LEN;

/** The authenticated, unencrypted part of a sealed box. */
export interface BoxHeader {
  /** The sealing peer. */
  sender: PeerKey;
  /** The peer the box is for. */
  recipient: PeerKey;
  /** 16 random bytes, hex. */
  messageId: string;
  /** Sender's wall clock at sealing, ms since the epoch. */
  timestamp: number;
}

/** Why Sealer.open() refused a box. */
export type OpenFailure = 'malformed' | 'bad-sender' | 'bad-recipient' | 'bad-tag';

/**
 * Seals and opens boxes between one local identity and its peers. The AEAD key of a direction is
 * HKDF(X25519(local, remote), info = label | lower key | higher key | direction): both peers derive the
 * same two keys, and a box sealed A→B can never be opened as B→A (no reflection). Derived keys are
 * cached per remote (bounded), since X25519 dominates the cost of a message.
 */
export class Sealer {
  readonly #identity: Identity;
  readonly #keys = new Map<string, { send: KeyObject; recv: KeyObject }>();
  readonly #cacheSize: number;

  constructor(identity: Identity, cacheSize = 1024) {
    this.#identity = identity;
    this.#cacheSize = cacheSize;
  }

  #keysFor(remote: PeerKey): { send: KeyObject; recv: KeyObject } {
    const hit = this.#keys.get(remote.base64);
    if (hit) return hit;
    const secret = dh(this.#identity.privateKey, publicKeyObject(remote));
    const me = this.#identity.publicKey;
    // KeyObjects, not Buffers: a raw key is re-imported by every createCipheriv (measured: a third of
    // an agent's signaling CPU with 50 peers).
    const keys = {
      send: createSecretKey(directionKey(secret, me, remote)),
      recv: createSecretKey(directionKey(secret, remote, me)),
    };
    if (this.#keys.size >= this.#cacheSize) this.#keys.delete(this.#keys.keys().next().value!);
    this.#keys.set(remote.base64, keys);
    return keys;
  }

  /** Seals `plaintext` for `recipient`. Throws ERR_INVALID_KEY when `recipient` is a low-order point. */
  seal(recipient: PeerKey, plaintext: Buffer, timestamp: number): { box: Buffer; messageId: string } {
    let keys: { send: KeyObject };
    try {
      keys = this.#keysFor(recipient);
    } catch (err) {
      throw new InvalidKeyError(`cannot seal for ${recipient.toShortString()}: unusable public key`, { cause: err });
    }
    const header = Buffer.alloc(BOX_HEADER_BYTES);
    header[0] = CRYPTO_VERSION;
    header.set(this.#identity.publicKey.bytes(), 1);
    header.set(recipient.bytes(), 33);
    const messageId = randomBytes(16);
    header.set(messageId, 65);
    header.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(timestamp))), 81);
    const nonce = randomBytes(NONCE_LEN);
    const cipher = createCipheriv('chacha20-poly1305', keys.send, nonce, { authTagLength: TAG_LEN });
    cipher.setAAD(Buffer.concat([SEAL_LABEL, header]), { plaintextLength: plaintext.length });
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { box: Buffer.concat([header, nonce, ct, cipher.getAuthTag()]), messageId: messageId.toString('hex') };
  }

  /**
   * Opens a box that the server says comes from `claimedSender`. Checks, in order: layout, that the
   * sealed sender is the claimed one, that we are the recipient, then the tag. Freshness and replay
   * are the caller's (they need state).
   */
  open(
    claimedSender: PeerKey,
    box: Buffer,
  ): { ok: true; header: BoxHeader; plaintext: Buffer } | { ok: false; reason: OpenFailure } {
    if (box.length < BOX_OVERHEAD || box[0] !== CRYPTO_VERSION) return { ok: false, reason: 'malformed' };
    const sender = PeerKey.fromBytes(box.subarray(1, 33));
    if (!sender.equals(claimedSender)) return { ok: false, reason: 'bad-sender' };
    if (!PeerKey.fromBytes(box.subarray(33, 65)).equals(this.#identity.publicKey)) {
      return { ok: false, reason: 'bad-recipient' };
    }
    let keys: { recv: KeyObject };
    try {
      keys = this.#keysFor(sender);
    } catch {
      return { ok: false, reason: 'bad-tag' };
    }
    const header = box.subarray(0, BOX_HEADER_BYTES);
    const nonce = box.subarray(BOX_HEADER_BYTES, BOX_HEADER_BYTES + NONCE_LEN);
    const ct = box.subarray(BOX_HEADER_BYTES + NONCE_LEN, box.length - TAG_LEN);
    try {
      const decipher = createDecipheriv('chacha20-poly1305', keys.recv, nonce, { authTagLength: TAG_LEN });
      decipher.setAAD(Buffer.concat([SEAL_LABEL, header]), { plaintextLength: ct.length });
      decipher.setAuthTag(box.subarray(box.length - TAG_LEN));
      const plaintext = Buffer.concat([decipher.update(ct), decipher.final()]);
      return {
        ok: true,
        plaintext,
        header: {
          sender,
          recipient: this.#identity.publicKey,
          messageId: box.subarray(65, 81).toString('hex'),
          timestamp: Number(box.readBigUInt64BE(81)),
        },
      };
    } catch {
      return { ok: false, reason: 'bad-tag' };
    }
  }
}

function directionKey(secret: Buffer, from: PeerKey, to: PeerKey): Buffer {
  const [lo, hi] = from.compare(to) < 0 ? [from, to] : [to, from];
  const direction = Buffer.from(from.equals(lo) ? 'lo->hi' : 'hi->lo');
  return hkdf(secret, Buffer.alloc(0), Buffer.concat([SEAL_LABEL, lo.bytes(), hi.bytes(), direction]));
}
