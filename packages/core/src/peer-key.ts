import { InvalidKeyError } from './errors.js';

const BASE64_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/**
 * A WireGuard public key (32 bytes). Immutable; compare with `equals`, order with `compare`.
 * The base64 text is canonical: it is what WireGuard tools print and what the controller rule
 * and relay peer ids are computed from.
 *
 * The base64 text is its only state, and it has no `#private` members, so a PeerKey from another
 * copy of @mesh/core (two versions in one dependency tree) is the same type; `from` accepts one.
 */
export class PeerKey {
  /** The canonical base64 text (44 characters). */
  readonly base64: string;

  private constructor(bytes: Uint8Array) {
    this.base64 = Buffer.from(bytes).toString('base64');
  }

  /** Parses the base64 form (44 characters, as `wg` prints it). */
  static parse(text: string): PeerKey {
    if (typeof text !== 'string') throw new InvalidKeyError(`a WireGuard key must be a string, got ${typeof text}`);
    const t = text.trim();
    if (!BASE64_KEY.test(t)) {
      throw new InvalidKeyError(
        `invalid WireGuard key ${JSON.stringify(short(t))}: expected 44 base64 characters encoding 32 bytes`,
      );
    }
    return new PeerKey(new Uint8Array(Buffer.from(t, 'base64')));
  }

  /** Parses the hex form (64 hex digits, as the UAPI speaks it). */
  static fromHex(hex: string): PeerKey {
    if (typeof hex !== 'string' || !HEX_KEY.test(hex)) {
      throw new InvalidKeyError(`invalid WireGuard key ${JSON.stringify(short(String(hex)))}: expected 64 hex digits`);
    }
    return new PeerKey(new Uint8Array(Buffer.from(hex, 'hex')));
  }

  /** Wraps 32 raw bytes (copied). */
  static fromBytes(bytes: Uint8Array): PeerKey {
    if (!(bytes instanceof Uint8Array) || bytes.length !== 32) {
      throw new InvalidKeyError(`invalid WireGuard key: expected 32 bytes, got ${bytes?.length ?? 'none'}`);
    }
    return new PeerKey(new Uint8Array(bytes));
  }

  /** Accepts base64 or hex text, or an existing PeerKey (also one from another copy of @mesh/core). */
  static from(value: PeerKey | string): PeerKey {
    if (value instanceof PeerKey) return value;
    if (isForeignPeerKey(value)) return PeerKey.parse(value.base64);
    if (typeof value === 'string' && HEX_KEY.test(value.trim())) return PeerKey.fromHex(value.trim());
    return PeerKey.parse(value);
  }

  /** The hex form (64 digits), as the UAPI speaks it. */
  get hex(): string {
    return Buffer.from(this.base64, 'base64').toString('hex');
  }

  /** A copy of the 32 key bytes. */
  bytes(): Uint8Array {
    return new Uint8Array(Buffer.from(this.base64, 'base64'));
  }

  /** True when both keys have the same bytes. */
  equals(other: PeerKey): boolean {
    return this.base64 === other.base64;
  }

  /** Plain string order of the base64 texts (NetBird's rule, so mixed meshes agree). */
  compare(other: PeerKey): -1 | 0 | 1 {
    return this.base64 < other.base64 ? -1 : this.base64 > other.base64 ? 1 : 0;
  }

  /** The controller of a pair is the side whose base64 key sorts higher. */
  isControllerFor(remote: PeerKey): boolean {
    return this.compare(remote) > 0;
  }

  /** Short form for logs: the first 8 base64 characters. */
  toShortString(): string {
    return this.base64.slice(0, 8);
  }

  /** The base64 text. */
  toString(): string {
    return this.base64;
  }

  /** The base64 text, so keys serialise as strings. */
  toJSON(): string {
    return this.base64;
  }
}

/** A PeerKey built by another copy of this class: `instanceof` fails, the shape is the same. */
function isForeignPeerKey(value: unknown): value is PeerKey {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { base64?: unknown }).base64 === 'string' &&
    typeof (value as { equals?: unknown }).equals === 'function'
  );
}

function short(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
