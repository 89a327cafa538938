import { randomBytes } from 'node:crypto';
import { MeshError } from '@mesh/core';

/** Error codes of @mesh/ice-worker (beside core's ERR_INVALID_ARGUMENT, ERR_CLOSED, ERR_ABORTED, ERR_TIMEOUT). */
export const IceErrorCodes = {
  /** An offer, answer or candidate from the remote does not match the documented wire form. */
  BAD_MESSAGE: 'ERR_ICE_BAD_MESSAGE',
  /** The agent could not be built or failed while connecting (wraps the library error). */
  AGENT_FAILED: 'ERR_ICE_AGENT_FAILED',
} as const;

/** An offer, answer or candidate that does not match the wire form (`ERR_ICE_BAD_MESSAGE`). */
export class IceBadMessageError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(IceErrorCodes.BAD_MESSAGE, message, options);
  }
}

/** The agent could not be built or failed while connecting (`ERR_ICE_AGENT_FAILED`). */
export class IceAgentError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(IceErrorCodes.AGENT_FAILED, message, options);
  }
}

/**
 * What an offer or an answer carries for ICE (JSON form, all strings):
 * `{ "sessionId": "0a1b2c3d4e", "ufrag": "…16 chars…", "pwd": "…32 chars…", "inReplyTo"?: "…" }`.
 * `inReplyTo` is set on answers only: the sender's view of *our* session id when it answered.
 */
export interface IceDescription {
  /** The sender's session id (10 lowercase hex characters). */
  sessionId: string;
  /** The sender's ICE username fragment. */
  ufrag: string;
  /** The sender's ICE password. */
  pwd: string;
  /** On answers: the session id of the offer being answered. */
  inReplyTo?: string;
}

/** A trickled candidate (JSON): `{ "sessionId": "0a1b2c3d4e", "candidate": "<SDP candidate attribute body>" }`. */
export interface IceCandidateMessage {
  /** The sender's session id the candidate belongs to. */
  sessionId: string;
  /** The SDP candidate attribute body. */
  candidate: string;
}

/** ICE credentials of one side of a session. */
export interface IceCredentials {
  /** Username fragment (16 characters when we make it). */
  ufrag: string;
  /** Password (32 characters when we make it). */
  pwd: string;
}

/** One local session: a fresh id and fresh credentials every time (unlike NetBird, F-ICE-11). */
export interface LocalSession extends IceCredentials {
  /** The session id (10 lowercase hex characters). */
  id: string;
}

const SESSION_ID = /^[0-9a-f]{10}$/;
// RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/"; ufrag 4–256 chars, pwd 22–256 chars.
const ICE_CHARS = /^[A-Za-z0-9+/]+$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 5 random bytes as 10 lowercase hex chars. */
export function newSessionId(): string {
  return randomBytes(5).toString('hex');
}

function randomIceString(length: number): string {
  // 62 symbols: reject bytes >= 248 so every symbol is equally likely.
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248 && out.length < length) out += ALPHABET[b % 62];
    }
  }
  return out;
}

/** A fresh local session: a new id and new credentials. */
export function newLocalSession(): LocalSession {
  return { id: newSessionId(), ufrag: randomIceString(16), pwd: randomIceString(32) };
}

/** True for a well-formed session id (10 lowercase hex characters). */
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID.test(value);
}

/** Validates an offer/answer received from the remote; throws IceBadMessageError. */
export function parseDescription(value: unknown): IceDescription {
  if (typeof value !== 'object' || value === null) throw new IceBadMessageError('description must be an object');
  const v = value as Record<string, unknown>;
  if (!isSessionId(v.sessionId)) throw new IceBadMessageError('sessionId must be 10 lowercase hex chars');
  if (typeof v.ufrag !== 'string' || v.ufrag.length < 4 || v.ufrag.length > 256 || !ICE_CHARS.test(v.ufrag)) {
    throw new IceBadMessageError('ufrag must be 4–256 ice-chars');
  }
  if (typeof v.pwd !== 'string' || v.pwd.length < 22 || v.pwd.length > 256 || !ICE_CHARS.test(v.pwd)) {
    throw new IceBadMessageError('pwd must be 22–256 ice-chars');
  }
  if (v.inReplyTo !== undefined && !isSessionId(v.inReplyTo)) {
    throw new IceBadMessageError('inReplyTo must be a session id');
  }
  const out: IceDescription = { sessionId: v.sessionId, ufrag: v.ufrag, pwd: v.pwd };
  if (v.inReplyTo !== undefined) out.inReplyTo = v.inReplyTo;
  return out;
}

/** Validates a candidate message's shape (the SDP body itself is checked by the agent). */
export function parseCandidateMessage(value: unknown): IceCandidateMessage {
  if (typeof value !== 'object' || value === null) throw new IceBadMessageError('candidate message must be an object');
  const v = value as Record<string, unknown>;
  if (!isSessionId(v.sessionId)) throw new IceBadMessageError('sessionId must be 10 lowercase hex chars');
  if (typeof v.candidate !== 'string' || v.candidate.length === 0 || v.candidate.length > 512) {
    throw new IceBadMessageError('candidate must be a non-empty SDP candidate string');
  }
  return { sessionId: v.sessionId, candidate: v.candidate };
}
