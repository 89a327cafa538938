import {
  AUTH_HEADER_SIZE,
  AUTH_MAGIC,
  HEADER_SIZE,
  MAX_AUTH_MESSAGE_SIZE,
  MAX_AUTH_RESPONSE_SIZE,
  MAX_MESSAGE_SIZE,
  MAX_PEER_IDS_PER_MESSAGE,
  MAX_TRANSPORT_PAYLOAD,
  MsgType,
  PEER_ID_SIZE,
  PROTOCOL_VERSION,
  TRANSPORT_HEADER_SIZE,
} from './constants.js';
import { RelayProtocolError } from './errors.js';
import { PeerId } from './peer-id.js';

/** Transport: client→server `peerId` is the destination; server→client it is the source. */
export interface TransportMessage {
  /** Message type. */
  type: 'transport';
  /** Destination (client→server) or source (server→client) peer. */
  peerId: PeerId;
  /** A view into the decoded frame (no copy): copy it if the frame buffer is reused. */
  payload: Buffer;
}
/** Close: the sender is going away (graceful shutdown). */
export interface CloseMessage {
  /** Message type. */
  type: 'close';
}
/** Health check: sent by the server, echoed by the client. */
export interface HealthCheckMessage {
  /** Message type. */
  type: 'healthcheck';
}
/** Auth: the client's peer id and token, the first message on a connection. */
export interface AuthMessage {
  /** Message type. */
  type: 'auth';
  /** The client's peer id. */
  peerId: PeerId;
  /** The client's relay token. */
  token: Buffer;
}
/** The server's reply to a valid auth. */
export interface AuthResponseMessage {
  /** Message type. */
  type: 'auth-response';
  /** The server's instance URL (what peers advertise to meet on it). */
  instanceUrl: string;
}
/** Subscribe / unsubscribe (client) or peers online / offline (server), for a list of peer ids. */
export interface PeerListMessage<T extends PeerListType> {
  /** Message type. */
  type: T;
  /** The peers concerned. */
  peerIds: PeerId[];
}
/** The four peer-list message types. */
export type PeerListType = 'subscribe' | 'unsubscribe' | 'peers-online' | 'peers-offline';

/** Messages a client may send (the server accepts types 3, 4, 5, 6, 8, 9). */
export type ClientMessage =
  | TransportMessage
  | CloseMessage
  | HealthCheckMessage
  | AuthMessage
  | PeerListMessage<'subscribe'>
  | PeerListMessage<'unsubscribe'>;
/** Messages a server may send (the client accepts types 3, 4, 5, 7, 10, 11). */
export type ServerMessage =
  | TransportMessage
  | CloseMessage
  | HealthCheckMessage
  | AuthResponseMessage
  | PeerListMessage<'peers-online'>
  | PeerListMessage<'peers-offline'>;
/** Any relay message. */
export type RelayMessage = ClientMessage | ServerMessage;

const LIST_TYPES: Record<PeerListType, MsgType> = {
  subscribe: MsgType.SubscribePeerState,
  unsubscribe: MsgType.UnsubscribePeerState,
  'peers-online': MsgType.PeersOnline,
  'peers-offline': MsgType.PeersWentOffline,
};
const CLIENT_TYPES = new Set<number>([3, 4, 5, 6, 8, 9]);
const SERVER_TYPES = new Set<number>([3, 4, 5, 7, 10, 11]);
const utf8 = new TextDecoder('utf-8', { fatal: true });

function header(type: MsgType, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  buf[0] = PROTOCOL_VERSION;
  buf[1] = type;
  return buf;
}

const CLOSE = Buffer.from([PROTOCOL_VERSION, MsgType.Close]);
const HEALTH_CHECK = Buffer.from([PROTOCOL_VERSION, MsgType.HealthCheck]);

/** The close message. */
export function encodeClose(): Buffer {
  return Buffer.from(CLOSE);
}

/** The health-check message. */
export function encodeHealthCheck(): Buffer {
  return Buffer.from(HEALTH_CHECK);
}

/** `[1][3][peer id][payload]`; the payload is at most 8782 bytes. */
export function encodeTransport(peerId: PeerId, payload: Uint8Array): Buffer {
  if (payload.length > MAX_TRANSPORT_PAYLOAD) {
    throw new RelayProtocolError('oversize', `transport payload of ${payload.length} bytes > ${MAX_TRANSPORT_PAYLOAD}`);
  }
  const buf = header(MsgType.Transport, TRANSPORT_HEADER_SIZE + payload.length);
  peerId.bytes.copy(buf, HEADER_SIZE);
  buf.set(payload, TRANSPORT_HEADER_SIZE);
  return buf;
}

/** `[1][6][21 12 A4 42][own peer id][token]`, at most 212 bytes in all. */
export function encodeAuth(peerId: PeerId, token: Uint8Array): Buffer {
  const size = AUTH_HEADER_SIZE + token.length;
  if (size > MAX_AUTH_MESSAGE_SIZE) {
    throw new RelayProtocolError('oversize', `auth message of ${size} bytes > ${MAX_AUTH_MESSAGE_SIZE}`);
  }
  const buf = header(MsgType.Auth, size);
  buf.set(AUTH_MAGIC, HEADER_SIZE);
  peerId.bytes.copy(buf, HEADER_SIZE + AUTH_MAGIC.length);
  buf.set(token, AUTH_HEADER_SIZE);
  return buf;
}

/** `[1][7][instance URL, UTF-8]`: at least one URL byte, at most 8192 bytes in all. */
export function encodeAuthResponse(instanceUrl: string): Buffer {
  const url = Buffer.from(instanceUrl, 'utf8');
  if (url.length === 0) throw new RelayProtocolError('invalid-argument', 'empty instance URL');
  if (HEADER_SIZE + url.length > MAX_AUTH_RESPONSE_SIZE) {
    throw new RelayProtocolError(
      'oversize',
      `auth response of ${HEADER_SIZE + url.length} bytes > ${MAX_AUTH_RESPONSE_SIZE}`,
    );
  }
  const buf = header(MsgType.AuthResponse, HEADER_SIZE + url.length);
  url.copy(buf, HEADER_SIZE);
  return buf;
}

/** One or more `[1][type][N × 36-byte id]` messages, split every 244 ids. An empty list is an error. */
export function encodePeerIdList(type: PeerListType, peerIds: readonly PeerId[]): Buffer[] {
  if (peerIds.length === 0) throw new RelayProtocolError('invalid-argument', `empty peer id list for ${type}`);
  const out: Buffer[] = [];
  for (let i = 0; i < peerIds.length; i += MAX_PEER_IDS_PER_MESSAGE) {
    const chunk = peerIds.slice(i, i + MAX_PEER_IDS_PER_MESSAGE);
    const buf = header(LIST_TYPES[type], HEADER_SIZE + chunk.length * PEER_ID_SIZE);
    chunk.forEach((id, n) => {
      id.bytes.copy(buf, HEADER_SIZE + n * PEER_ID_SIZE);
    });
    out.push(buf);
  }
  return out;
}

/** Encodes any message; peer-id lists may need several frames, so this always returns a list. */
export function encodeMessage(msg: RelayMessage): Buffer[] {
  switch (msg.type) {
    case 'transport':
      return [encodeTransport(msg.peerId, msg.payload)];
    case 'close':
      return [encodeClose()];
    case 'healthcheck':
      return [encodeHealthCheck()];
    case 'auth':
      return [encodeAuth(msg.peerId, msg.token)];
    case 'auth-response':
      return [encodeAuthResponse(msg.instanceUrl)];
    default:
      return encodePeerIdList(msg.type, msg.peerIds);
  }
}

function asBuffer(frame: Uint8Array): Buffer {
  return Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
}

/**
 * Decodes one relay message of any type 3–11. Every malformed input throws RelayProtocolError (with a
 * `reason`): short, oversize, wrong version, unknown type, trailing bytes, bad list length, bad magic,
 * invalid UTF-8. Nothing else escapes.
 */
export function decodeMessage(frame: Uint8Array): RelayMessage {
  if (!(frame instanceof Uint8Array)) throw new RelayProtocolError('invalid-argument', 'a frame must be bytes');
  const buf = asBuffer(frame);
  if (buf.length < HEADER_SIZE) throw new RelayProtocolError('short', `message of ${buf.length} bytes`);
  if (buf.length > MAX_MESSAGE_SIZE) {
    throw new RelayProtocolError('oversize', `message of ${buf.length} bytes > ${MAX_MESSAGE_SIZE}`);
  }
  if (buf[0] !== PROTOCOL_VERSION) throw new RelayProtocolError('version', `unsupported version ${buf[0]}`);
  const type = buf[1]!;
  switch (type) {
    case MsgType.Transport:
      if (buf.length < TRANSPORT_HEADER_SIZE) {
        throw new RelayProtocolError('short', `transport message of ${buf.length} bytes`);
      }
      return {
        type: 'transport',
        peerId: PeerId.fromBytes(buf.subarray(HEADER_SIZE, TRANSPORT_HEADER_SIZE)),
        payload: buf.subarray(TRANSPORT_HEADER_SIZE),
      };
    case MsgType.Close:
      exactHeader(buf, 'close');
      return { type: 'close' };
    case MsgType.HealthCheck:
      exactHeader(buf, 'healthcheck');
      return { type: 'healthcheck' };
    case MsgType.Auth:
      return decodeAuth(buf);
    case MsgType.AuthResponse:
      return decodeAuthResponse(buf);
    case MsgType.SubscribePeerState:
      return { type: 'subscribe', peerIds: decodeIds(buf) };
    case MsgType.UnsubscribePeerState:
      return { type: 'unsubscribe', peerIds: decodeIds(buf) };
    case MsgType.PeersOnline:
      return { type: 'peers-online', peerIds: decodeIds(buf) };
    case MsgType.PeersWentOffline:
      return { type: 'peers-offline', peerIds: decodeIds(buf) };
    default:
      throw new RelayProtocolError('type', `unknown message type ${type}`);
  }
}

/** What a server reads: types 3, 4, 5, 6, 8, 9; anything else is a RelayProtocolError. */
export function decodeClientMessage(frame: Uint8Array): ClientMessage {
  return decodeDirected(frame, CLIENT_TYPES, 'client') as ClientMessage;
}

/** What a client reads: types 3, 4, 5, 7, 10, 11; anything else is a RelayProtocolError. */
export function decodeServerMessage(frame: Uint8Array): ServerMessage {
  return decodeDirected(frame, SERVER_TYPES, 'server') as ServerMessage;
}

function decodeDirected(frame: Uint8Array, allowed: Set<number>, from: string): RelayMessage {
  const msg = decodeMessage(frame);
  const type = frame[1]!;
  if (!allowed.has(type)) throw new RelayProtocolError('direction', `message type ${type} is not sent by a ${from}`);
  return msg;
}

function exactHeader(buf: Buffer, name: string): void {
  if (buf.length !== HEADER_SIZE) {
    throw new RelayProtocolError('trailing-bytes', `${name} message of ${buf.length} bytes (expected ${HEADER_SIZE})`);
  }
}

function decodeAuth(buf: Buffer): AuthMessage {
  if (buf.length < AUTH_HEADER_SIZE) throw new RelayProtocolError('short', `auth message of ${buf.length} bytes`);
  if (buf.length > MAX_AUTH_MESSAGE_SIZE) {
    throw new RelayProtocolError('oversize', `auth message of ${buf.length} bytes > ${MAX_AUTH_MESSAGE_SIZE}`);
  }
  for (let i = 0; i < AUTH_MAGIC.length; i++) {
    if (buf[HEADER_SIZE + i] !== AUTH_MAGIC[i]) throw new RelayProtocolError('magic', 'invalid auth magic');
  }
  const idAt = HEADER_SIZE + AUTH_MAGIC.length;
  return {
    type: 'auth',
    peerId: PeerId.fromBytes(buf.subarray(idAt, idAt + PEER_ID_SIZE)),
    token: Buffer.from(buf.subarray(AUTH_HEADER_SIZE)),
  };
}

function decodeAuthResponse(buf: Buffer): AuthResponseMessage {
  if (buf.length < HEADER_SIZE + 1) throw new RelayProtocolError('short', 'auth response without an instance URL');
  if (buf.length > MAX_AUTH_RESPONSE_SIZE) {
    throw new RelayProtocolError('oversize', `auth response of ${buf.length} bytes > ${MAX_AUTH_RESPONSE_SIZE}`);
  }
  try {
    return { type: 'auth-response', instanceUrl: utf8.decode(buf.subarray(HEADER_SIZE)) };
  } catch {
    throw new RelayProtocolError('utf8', 'instance URL is not valid UTF-8');
  }
}

function decodeIds(buf: Buffer): PeerId[] {
  const body = buf.length - HEADER_SIZE;
  if (body === 0 || body % PEER_ID_SIZE !== 0) {
    throw new RelayProtocolError('list-length', `peer id list of ${body} bytes is not a non-empty multiple of 36`);
  }
  const ids: PeerId[] = [];
  for (let at = HEADER_SIZE; at < buf.length; at += PEER_ID_SIZE) {
    ids.push(PeerId.fromBytes(buf.subarray(at, at + PEER_ID_SIZE)));
  }
  return ids;
}

/**
 * The 36-byte id field of a transport frame as a PeerId map key, without decoding the frame. The
 * caller has checked version, type and length (server forwarding hot path).
 */
export function transportPeerKey(frame: Buffer): string {
  return frame.toString('latin1', HEADER_SIZE, TRANSPORT_HEADER_SIZE);
}

/**
 * Rewrites the id field of a transport frame in place: the server turns the destination id a client
 * sent into the source id the receiver must see.
 */
export function rewriteTransportPeerId(frame: Buffer, peerId: PeerId): void {
  if (frame.length < TRANSPORT_HEADER_SIZE || frame[1] !== MsgType.Transport) {
    throw new RelayProtocolError('short', 'not a transport frame');
  }
  peerId.bytes.copy(frame, HEADER_SIZE);
}
