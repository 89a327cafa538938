import { createHash } from 'node:crypto';
import { InvalidArgumentError, PeerKey } from '@mesh/core';
import { PEER_ID_SIZE } from './constants.js';
import { RelayProtocolError } from './errors.js';

const PREFIX = Buffer.from('sha-', 'ascii');

/**
 * A relay peer id: ASCII "sha-" followed by SHA-256 of the peer's base64 public-key *text* (36 bytes).
 * `key` is a 36-character latin1 string of the raw bytes — cheap to build from a frame, so it is
 * the map key on hot paths; `toString()` is NetBird's human form ("sha-" + base64 of the digest).
 */
export class PeerId {
  /** The 36 raw bytes. */
  readonly bytes: Buffer;
  /** The raw bytes as a latin1 string, for maps. */
  readonly key: string;

  private constructor(bytes: Buffer) {
    this.bytes = bytes;
    this.key = bytes.toString('latin1');
  }

  /** Hashes any id text the way NetBird's `HashID` does (a WireGuard key's base64 text, usually). */
  static hash(text: string): PeerId {
    const digest = createHash('sha256').update(text, 'utf8').digest();
    return new PeerId(Buffer.concat([PREFIX, digest]));
  }

  /** The peer id of a WireGuard public key. */
  static fromKey(key: PeerKey): PeerId {
    return PeerId.hash(key.base64);
  }

  /** Copies 36 bytes (any bytes: the wire does not require the "sha-" prefix). */
  static fromBytes(bytes: Uint8Array): PeerId {
    if (bytes.length !== PEER_ID_SIZE) {
      throw new RelayProtocolError('invalid-argument', `a peer id has ${PEER_ID_SIZE} bytes, got ${bytes.length}`);
    }
    return new PeerId(Buffer.from(bytes));
  }

  /** Rebuilds a PeerId from its `key` string. */
  static fromMapKey(key: string): PeerId {
    return PeerId.fromBytes(Buffer.from(key, 'latin1'));
  }

  /** True when both ids have the same bytes. */
  equals(other: PeerId): boolean {
    return this.key === other.key;
  }

  /** NetBird's human form: "sha-" + base64 of the digest. */
  toString(): string {
    return `${this.bytes.subarray(0, 4).toString('latin1')}${this.bytes.subarray(4).toString('base64')}`;
  }

  /** The human form, so ids serialise as strings. */
  toJSON(): string {
    return this.toString();
  }
}

/** The relay peer id of a WireGuard public key. */
export function peerIdFromKey(key: PeerKey): PeerId {
  return PeerId.fromKey(key);
}

/** A peer given as its WireGuard key (PeerKey or base64/hex text), its relay PeerId, or NetBird's id text. */
export type PeerRef = PeerKey | PeerId | string;

/** The relay peer id of any PeerRef; `sha-…` text must carry a 32-byte digest. */
export function toPeerId(ref: PeerRef): PeerId {
  if (ref instanceof PeerId) return ref;
  if (typeof ref === 'string' && ref.startsWith('sha-')) {
    const digest = Buffer.from(ref.slice(4), 'base64');
    if (digest.length !== 32) throw new InvalidArgumentError(`invalid relay peer id ${JSON.stringify(ref)}`);
    return PeerId.fromBytes(Buffer.concat([PREFIX, digest]));
  }
  return PeerId.fromKey(PeerKey.from(ref));
}
