import { randomBytes } from 'node:crypto';

const MAGIC = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const ATTR_MAPPED_ADDRESS = 0x0001;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;

/** A STUN Binding Request (RFC 5389) with a fresh transaction id from node:crypto. */
export function stunBindingRequest(transactionId: Buffer = randomBytes(12)): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16BE(BINDING_REQUEST, 0);
  b.writeUInt16BE(0, 2);
  b.writeUInt32BE(MAGIC, 4);
  transactionId.copy(b, 8, 0, 12);
  return b;
}

export interface StunMapped {
  address: string;
  port: number;
  transactionId: string;
}

/** True when the datagram looks like STUN (top bits 00, magic cookie present). */
export function isStun(msg: Buffer): boolean {
  return msg.length >= 20 && (msg[0]! & 0xc0) === 0 && msg.readUInt32BE(4) === MAGIC;
}

/**
 * The (XOR-)MAPPED-ADDRESS of an IPv4 Binding Success Response; undefined for anything else
 * (other message types, truncated or malformed attributes, IPv6).
 */
export function parseStunBindingResponse(msg: Buffer): StunMapped | undefined {
  if (!isStun(msg) || msg.readUInt16BE(0) !== BINDING_SUCCESS) return undefined;
  const end = 20 + msg.readUInt16BE(2);
  if (end > msg.length) return undefined;
  const transactionId = msg.subarray(8, 20).toString('hex');
  let plain: StunMapped | undefined;
  for (let off = 20; off + 4 <= end; ) {
    const type = msg.readUInt16BE(off);
    const len = msg.readUInt16BE(off + 2);
    const val = off + 4;
    if (val + len > end) return undefined;
    if ((type === ATTR_XOR_MAPPED_ADDRESS || type === ATTR_MAPPED_ADDRESS) && len >= 8 && msg[val + 1] === 0x01) {
      const xor = type === ATTR_XOR_MAPPED_ADDRESS;
      const port = msg.readUInt16BE(val + 2) ^ (xor ? MAGIC >>> 16 : 0);
      const ip = msg.readUInt32BE(val + 4) ^ (xor ? MAGIC : 0);
      const mapped = {
        address: [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.'),
        port,
        transactionId,
      };
      if (xor) return mapped;
      plain = mapped;
    }
    off = val + len + ((4 - (len % 4)) % 4); // attributes are padded to 4 bytes
  }
  return plain;
}

/** Builds a Binding Success Response with an XOR-MAPPED-ADDRESS (tests and fake servers). */
export function stunBindingResponse(transactionId: Buffer, address: string, port: number): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt16BE(BINDING_SUCCESS, 0);
  b.writeUInt16BE(12, 2);
  b.writeUInt32BE(MAGIC, 4);
  transactionId.copy(b, 8, 0, 12);
  b.writeUInt16BE(ATTR_XOR_MAPPED_ADDRESS, 20);
  b.writeUInt16BE(8, 22);
  b.writeUInt8(0, 24);
  b.writeUInt8(0x01, 25);
  b.writeUInt16BE(port ^ (MAGIC >>> 16), 26);
  const ip = address.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  b.writeUInt32BE((ip ^ MAGIC) >>> 0, 28);
  return b;
}
