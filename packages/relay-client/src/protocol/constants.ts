/** NetBird relay protocol v1 constants (facts: netbird-model.md §7). */
export const PROTOCOL_VERSION = 1;

/** Message type byte (byte 1 of every message). 0–2 are reserved (unknown, legacy hello/hello-response). */
export const MsgType = {
  Transport: 3,
  Close: 4,
  HealthCheck: 5,
  Auth: 6,
  AuthResponse: 7,
  SubscribePeerState: 8,
  UnsubscribePeerState: 9,
  PeersOnline: 10,
  PeersWentOffline: 11,
} as const;
/** A message type byte. */
export type MsgType = (typeof MsgType)[keyof typeof MsgType];

/** Version byte + type byte. */
export const HEADER_SIZE = 2;
/** "sha-" + SHA-256 digest. */
export const PEER_ID_SIZE = 36;
/** Largest relay message either side reads (both sides' read buffers are exactly this size). */
export const MAX_MESSAGE_SIZE = 8820;
/** Transport header: 2-byte header + 36-byte peer id. */
export const TRANSPORT_HEADER_SIZE = HEADER_SIZE + PEER_ID_SIZE;
/** Largest payload one transport message can carry. */
export const MAX_TRANSPORT_PAYLOAD = MAX_MESSAGE_SIZE - TRANSPORT_HEADER_SIZE;
/** floor((8820 - 2) / 36): peer-id lists longer than this are split into several messages. */
export const MAX_PEER_IDS_PER_MESSAGE = Math.floor((MAX_MESSAGE_SIZE - HEADER_SIZE) / PEER_ID_SIZE);
/** The auth magic equals the STUN magic cookie. */
export const AUTH_MAGIC: readonly number[] = [0x21, 0x12, 0xa4, 0x42];
/** Auth header: 2-byte header + 4-byte magic + 36-byte peer id. */
export const AUTH_HEADER_SIZE = HEADER_SIZE + AUTH_MAGIC.length + PEER_ID_SIZE;
/** The server reads the auth message into a buffer of this size: a longer one is rejected. */
export const MAX_AUTH_MESSAGE_SIZE = 212;
/** Largest token that fits in an auth message. */
export const MAX_TOKEN_SIZE = MAX_AUTH_MESSAGE_SIZE - AUTH_HEADER_SIZE;
/** Largest auth response a client accepts (bytes). */
export const MAX_AUTH_RESPONSE_SIZE = 8192;
/** WebSocket path of the relay endpoint. */
export const RELAY_WS_PATH = '/relay';
