import type { DisconnectCause } from './options.js';
import { CloseCodes } from './protocol/wire.js';

// SignalClient's defaults in one block (see the options' doc comments for what each one does).
export const DEFAULTS = {
  initialMs: 750,
  maxMs: 15_000,
  jitter: 0.3,
  registerTimeoutMs: 5_000,
  heartbeatMs: 15_000,
  idleMs: 2_000,
  pongTimeoutMs: 3_000,
  freshnessWindowMs: 120_000,
  replayCacheSize: 10_000,
  maxMessageBytes: 64 * 1024,
  maxBufferedBytes: 1 << 20,
  closeTimeoutMs: 1_000,
};

/**
 * Prompt reconnects (ladder restarted after a network drop of a short-lived connection): at most
 * this many in a row, then one more per minute. Two or three network events back to back (a PPPoE
 * re-dial rotates the public IP twice within seconds) each get a prompt reconnect; a server or
 * middlebox that registers us and then cuts the socket every time runs the bucket dry and meets the
 * growing ladder again.
 */
export const PROMPT_RESETS = { burst: 3, perSecond: 1 / 60 };

/** ws reports this code when the socket ended without a close frame (reset, FIN, error). */
export const ABNORMAL_CLOSURE = 1006;

export const CLOSE_CAUSES: Record<number, DisconnectCause> = {
  [CloseCodes.SHUTDOWN]: 'shutdown',
  [CloseCodes.AUTH_FAILED]: 'auth-failed',
  [CloseCodes.REGISTER_TIMEOUT]: 'register-timeout',
  [CloseCodes.PROTOCOL_ERROR]: 'protocol-error',
  [CloseCodes.REPLACED]: 'replaced',
  1000: 'server-closed',
};
