export { onceEvent, raceAbort, throwIfAborted, type WaitOptions, withDeadline } from './async.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export { abortReason, type Clock, FakeClock, flushMicrotasks, SystemClock, systemClock, type Timer } from './clock.js';
export {
  type DatagramPath,
  type DatagramPathEvents,
  type PathCloseInfo,
  type PathCounters,
  PathStats,
} from './datagram-path.js';
export {
  AbortError,
  ClosedError,
  ErrorCodes,
  hasCode,
  InvalidArgumentError,
  InvalidKeyError,
  MeshError,
  TimeoutError,
  toError,
} from './errors.js';
export {
  type AnyListener,
  type EventArgs,
  type EventListenerOf,
  type EventName,
  type EventsOf,
  listen,
  type Subscribable,
  Subscriptions,
  TypedEmitter,
} from './events.js';
export {
  JsonLinesLogger,
  type JsonLinesLoggerOptions,
  type LogFields,
  type Logger,
  type LogLevel,
  silentLogger,
} from './logger.js';
export { MemoryPath } from './memory-path.js';
export { PeerKey } from './peer-key.js';
export { cryptoRandom, randomHex, randomIntBetween } from './random.js';
export { SendLiveness, type SendLivenessOptions } from './send-liveness.js';
export type { Signaler, SignalerEvents } from './signaler.js';
