import { InvalidKeyError } from './errors.js';

const BASE64_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/**
 * A WireGuard public key (32 bytes). Immutable; compare with `equals`, order with `compare`.
 * The base64 text is canonical: it is what WireGuard tools print and what the controller rule
 * and relay peer ids are computed from.
 */
export class PeerKey {
  readonly #bytes: Uint8Array;
  readonly base64: string;

  private constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
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

  static fromBytes(bytes: Uint8Array): PeerKey {
    if (!(bytes instanceof Uint8Array) || bytes.length !== 32) {
      throw new InvalidKeyError(`invalid WireGuard key: expected 32 bytes, got ${bytes?.length ?? 'none'}`);
    }
    return new PeerKey(new Uint8Array(bytes));
  }

  /** Accepts base64 or hex text, or an existing PeerKey. */
  static from(value: PeerKey | string): PeerKey {
    if (value instanceof PeerKey) return value;
    if (typeof value === 'string' && HEX_KEY.test(value.trim())) return PeerKey.fromHex(value.trim());
    return PeerKey.parse(value);
  }

  get hex(): string {
    return Buffer.from(this.#bytes).toString('hex');
  }

  bytes(): Uint8Array {
    return new Uint8Array(this.#bytes);
  }

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

  toString(): string {
    return this.base64;
  }

  toJSON(): string {
    return this.base64;
  }
}

function short(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
