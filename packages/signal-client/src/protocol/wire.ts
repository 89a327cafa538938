import { PeerKey } from '@mesh/core';
import { MAC_BYTES, NONCE_BYTES } from './crypto.js';

/** Wire protocol version, sent in the challenge; a client refuses a server speaking another. */
export const WIRE_VERSION = 1;

/** WebSocket close codes the server uses (the client maps them to a DisconnectCause). */
export const CloseCodes = {
  SHUTDOWN: 1001,
  AUTH_FAILED: 4001,
  REGISTER_TIMEOUT: 4002,
  PROTOCOL_ERROR: 4003,
  REPLACED: 4004,
} as const;

/**
 * A forwarded `message` frame is this many bytes longer than the `send` frame it came from; a client
 * accepts frames that much over its limit, so a send the server took is never too big to deliver.
 */
export const FORWARD_GROWTH = '"message","from"'.length - '"send","to"'.length;

/** A decoded frame from the server: the challenge, the registration ack, or a forwarded message. */
export type ServerFrame =
  | { type: 'challenge'; version: number; ephemeralKey: Buffer; nonce: Buffer }
  | { type: 'registered'; publicKey: PeerKey }
  | { type: 'message'; from: PeerKey; box: Buffer };

/** A decoded frame from a client: the registration proof, or a message to send. */
export type ClientFrame =
  | { type: 'register'; publicKey: PeerKey; mac: Buffer }
  | { type: 'send'; to: PeerKey; box: Buffer };

/** A frame that is not JSON of our schema. `reason` is short and stable (logs, counters). */
export class FrameError extends Error {}

/** The server's first frame: its ephemeral key and nonce. */
export function encodeChallenge(ephemeralKey: Buffer, nonce: Buffer): string {
  return JSON.stringify({
    type: 'challenge',
    version: WIRE_VERSION,
    ephemeralKey: ephemeralKey.toString('base64'),
    nonce: nonce.toString('base64'),
  });
}

/** The client's registration: its public key and the proof. */
export function encodeRegister(publicKey: PeerKey, mac: Buffer): string {
  return JSON.stringify({ type: 'register', publicKey: publicKey.base64, mac: mac.toString('base64') });
}

/** The server's registration ack. */
export function encodeRegistered(publicKey: PeerKey): string {
  return JSON.stringify({ type: 'registered', publicKey: publicKey.base64 });
}

/** A client's sealed message for `to`. */
export function encodeSend(to: PeerKey, box: Buffer): string {
  return JSON.stringify({ type: 'send', to: to.base64, box: box.toString('base64') });
}

/** The server rewrites only the envelope: `box` is the sender's base64 text, forwarded untouched. */
export function encodeMessage(from: PeerKey, boxBase64: string): string {
  return `{"type":"message","from":"${from.base64}","box":"${boxBase64}"}`;
}

/** Parses a frame from the server; throws FrameError when it is not JSON of our schema. */
export function decodeServerFrame(text: string): ServerFrame {
  const f = object(text);
  switch (f.type) {
    case 'challenge':
      if (f.version !== WIRE_VERSION) throw new FrameError(`unsupported wire version ${JSON.stringify(f.version)}`);
      return {
        type: 'challenge',
        version: f.version,
        ephemeralKey: bytes(f.ephemeralKey, 'ephemeralKey', 32),
        nonce: bytes(f.nonce, 'nonce', NONCE_BYTES),
      };
    case 'registered':
      return { type: 'registered', publicKey: key(f.publicKey, 'publicKey') };
    case 'message':
      return { type: 'message', from: key(f.from, 'from'), box: bytes(f.box, 'box') };
    default:
      throw new FrameError(`unknown frame type ${JSON.stringify(f.type)}`);
  }
}

/** Decodes a client frame; `send` keeps the box as text so the server forwards it without re-encoding. */
export function decodeClientFrame(
  text: string,
): { type: 'register'; publicKey: PeerKey; mac: Buffer } | { type: 'send'; to: PeerKey; box: string } {
  const f = object(text);
  switch (f.type) {
    case 'register':
      return { type: 'register', publicKey: key(f.publicKey, 'publicKey'), mac: bytes(f.mac, 'mac', MAC_BYTES) };
    case 'send':
      if (typeof f.box !== 'string' || f.box.length === 0 || !BASE64.test(f.box)) {
        throw new FrameError('box must be base64');
      }
      return { type: 'send', to: key(f.to, 'to'), box: f.box };
    default:
      throw new FrameError(`unknown frame type ${JSON.stringify(f.type)}`);
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function object(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new FrameError('not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FrameError('not a JSON object');
  return v as Record<string, unknown>;
}

function key(v: unknown, field: string): PeerKey {
  try {
    return PeerKey.parse(v as string);
  } catch {
    throw new FrameError(`${field} must be a base64 WireGuard key`);
  }
}

function bytes(v: unknown, field: string, length?: number): Buffer {
  if (typeof v !== 'string' || !BASE64.test(v)) throw new FrameError(`${field} must be base64`);
  const b = Buffer.from(v, 'base64');
  if (length !== undefined && b.length !== length) throw new FrameError(`${field} must be ${length} bytes`);
  return b;
}
