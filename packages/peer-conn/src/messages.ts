import { SignalMessageError } from './errors.js';

/** The signaling protocol this package speaks. Messages with a higher major version are rejected. */
export const SIGNAL_PROTOCOL_VERSION = 1;

/**
 * Capabilities a peer advertises in offers and answers. `relay-fallback`: the sender honours
 * `relay.unreachable` (both sides then meet on the follower's home relay).
 */
export type Capability = 'ice' | 'relay' | 'probe' | 'relay-fallback';
/** The capabilities this implementation advertises in every offer and answer. */
export const LOCAL_CAPABILITIES: readonly Capability[] = ['ice', 'relay', 'probe', 'relay-fallback'];

/** What an offer or answer carries about the sender's relay. */
export interface RelayOfferPart {
  /** The sender's home relay instance URL. */
  url: string;
  /**
   * Follower only: the controller's home relay URL the sender could not reach (dial refused, reset
   * or timed out). The controller then meets it on `url` instead of on its own home. Absent: meet
   * on the controller's home (as peers without this field always do).
   */
  unreachable?: string;
}

/** What an offer or answer carries about the sender's ICE session. */
export interface IceOfferPart {
  /** The sender's ICE username fragment for `sessionId`. */
  ufrag: string;
  /** The sender's ICE password for `sessionId`. */
  pwd: string;
  /** 10 lowercase hex characters (5 random bytes). */
  sessionId: string;
  /** Answers only: the offer's session id this answers, so an answer to an older session is ignored. */
  inReplyTo?: string;
}

/** An offer or answer: the sender's capabilities, ICE session and home relay. */
export interface OfferMessage {
  /** `offer` asks for an answer; `answer` replies to one. */
  type: 'offer' | 'answer';
  /** Protocol version of the sender (SIGNAL_PROTOCOL_VERSION). */
  version: number;
  /** The sender's capabilities; unknown ones are ignored. */
  caps: string[];
  /** Absent when the sender has no ICE (relay only). */
  ice: IceOfferPart | null;
  /** The sender's home relay; absent while its home relay is down. */
  relay: RelayOfferPart | null;
  /**
   * The sender's local candidates gathered so far for `ice.sessionId` (the same objects trickled
   * as candidate messages). Repeating them in every offer and answer makes a lost trickle message
   * harmless: the guard's next offer carries it again.
   */
  candidates?: unknown[];
}

/** One trickled local ICE candidate. */
export interface CandidateMessage {
  /** Message type. */
  type: 'candidate';
  /** Protocol version of the sender (SIGNAL_PROTOCOL_VERSION). */
  version: number;
  /** The ICE session the candidate belongs to. */
  sessionId: string;
  /** Opaque to this layer; validated by the ICE worker. */
  candidate: unknown;
}

/** Every message PeerConn sends through its Signaler. */
export type SignalMessage = OfferMessage | CandidateMessage;

const SESSION_ID = /^[0-9a-f]{10}$/;
const MAX_FIELD = 512;
const MAX_CANDIDATES = 32;

/**
 * Validates a message received from the network. Anything that does not match the schema is a
 * SignalMessageError (code ERR_SIGNAL_MESSAGE); unknown extra fields are ignored so newer peers
 * can add fields without breaking us.
 */
export function parseSignalMessage(value: unknown): SignalMessage {
  const m = obj(value, 'message');
  const version = m.version;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new SignalMessageError('message.version must be a positive integer');
  }
  if (version > SIGNAL_PROTOCOL_VERSION) {
    throw new SignalMessageError(
      `unsupported signaling protocol version ${version} (we speak ${SIGNAL_PROTOCOL_VERSION})`,
    );
  }
  switch (m.type) {
    case 'offer':
    case 'answer': {
      const caps = m.caps;
      if (!Array.isArray(caps) || caps.length > 32 || !caps.every((c) => typeof c === 'string' && c.length <= 32)) {
        throw new SignalMessageError('message.caps must be an array of at most 32 short strings');
      }
      let ice: IceOfferPart | null = null;
      if (m.ice !== null && m.ice !== undefined) {
        const i = obj(m.ice, 'message.ice');
        ice = {
          ufrag: str(i.ufrag, 'message.ice.ufrag'),
          pwd: str(i.pwd, 'message.ice.pwd'),
          sessionId: sessionId(i.sessionId, 'message.ice.sessionId'),
        };
        if (i.inReplyTo !== undefined) ice.inReplyTo = sessionId(i.inReplyTo, 'message.ice.inReplyTo');
      }
      let relay: RelayOfferPart | null = null;
      if (m.relay !== null && m.relay !== undefined) {
        const r = obj(m.relay, 'message.relay');
        relay = { url: str(r.url, 'message.relay.url') };
        if (r.unreachable !== undefined) {
          const unreachable = str(r.unreachable, 'message.relay.unreachable');
          // "I cannot reach my own home" is nonsense: reject rather than guess.
          if (unreachable === relay.url) {
            throw new SignalMessageError('message.relay.unreachable must differ from message.relay.url');
          }
          relay.unreachable = unreachable;
        }
      }
      const out: OfferMessage = { type: m.type, version, caps: caps as string[], ice, relay };
      if (m.candidates !== undefined) {
        if (!Array.isArray(m.candidates) || m.candidates.length > MAX_CANDIDATES) {
          throw new SignalMessageError(`message.candidates must be an array of at most ${MAX_CANDIDATES}`);
        }
        out.candidates = m.candidates;
      }
      return out;
    }
    case 'candidate':
      if (m.candidate === undefined || m.candidate === null) {
        throw new SignalMessageError('message.candidate is missing');
      }
      return {
        type: 'candidate',
        version,
        sessionId: sessionId(m.sessionId, 'message.sessionId'),
        candidate: m.candidate,
      };
    default:
      throw new SignalMessageError(`unknown message.type ${JSON.stringify(m.type)}`);
  }
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new SignalMessageError(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_FIELD) {
    throw new SignalMessageError(`${what} must be a non-empty string of at most ${MAX_FIELD} characters`);
  }
  return v;
}

function sessionId(v: unknown, what: string): string {
  if (typeof v !== 'string' || !SESSION_ID.test(v))
    throw new SignalMessageError(`${what} must be 10 lowercase hex characters`);
  return v;
}
