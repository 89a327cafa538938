import { randomBytes } from 'node:crypto';
import { PeerKey } from '@mesh/core';

/** A fresh random PeerKey (32 random bytes; not a real Curve25519 public key). */
export function randomPeerKey(): PeerKey {
  return PeerKey.fromBytes(randomBytes(32));
}
