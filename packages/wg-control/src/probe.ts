/**
 * Path probes between two PeerEndpoints. 24 bytes:
 *   0..3   magic 0xFF 'm' 'p' version(1)   — byte 0 is 0xFF, never a WireGuard type (1–4)
 *   4      kind: 1 = ping, 2 = pong
 *   5..7   zero
 *   8..15  sender's monotonic send time, float64 BE (a pong echoes the ping's)
 *   16..23 sender's endpoint id (a pong echoes the ping's), so a pong is only credited to the
 *          endpoint that sent the ping
 */
import { MESSAGE_INITIATION_TYPE, MESSAGE_TRANSPORT_TYPE } from './constants.js';

/** Size in bytes of a probe (ping or pong). */
export const PROBE_SIZE = 24;
const MAGIC = [0xff, 0x6d, 0x70, 0x01] as const;
export const PING = 1;
export const PONG = 2;

export interface Probe {
  kind: typeof PING | typeof PONG;
  sentAt: number;
  id: Buffer;
}

export function encodeProbe(kind: typeof PING | typeof PONG, sentAt: number, id: Buffer): Buffer {
  const b = Buffer.alloc(PROBE_SIZE);
  b.set(MAGIC, 0);
  b[4] = kind;
  b.writeDoubleBE(sentAt, 8);
  id.copy(b, 16, 0, 8);
  return b;
}

/** True when the datagram carries the probe magic (whether or not the rest is well formed). */
export function isProbe(d: Uint8Array): boolean {
  return d.length >= 4 && d[0] === MAGIC[0] && d[1] === MAGIC[1] && d[2] === MAGIC[2] && d[3] === MAGIC[3];
}

/** A well-formed probe, or undefined. */
export function decodeProbe(d: Buffer): Probe | undefined {
  if (d.length !== PROBE_SIZE || !isProbe(d)) return undefined;
  const kind = d[4];
  if ((kind !== PING && kind !== PONG) || d[5] !== 0 || d[6] !== 0 || d[7] !== 0) return undefined;
  const sentAt = d.readDoubleBE(8);
  if (!Number.isFinite(sentAt)) return undefined;
  return { kind, sentAt, id: d.subarray(16, 24) };
}

/** WireGuard messages start with their type (1–4) followed by three reserved zero bytes. */
export function isWireGuardMessage(d: Uint8Array): boolean {
  return (
    d.length >= 4 &&
    d[0]! >= MESSAGE_INITIATION_TYPE &&
    d[0]! <= MESSAGE_TRANSPORT_TYPE &&
    d[1] === 0 &&
    d[2] === 0 &&
    d[3] === 0
  );
}
