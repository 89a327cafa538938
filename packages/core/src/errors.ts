/**
 * Every error mesh throws or emits is a MeshError with a stable `code`. Callers branch on the code,
 * never on the message or the class identity (two copies of a package may be loaded).
 */
export class MeshError extends Error {
  /** Stable machine-readable code, e.g. `ERR_TIMEOUT`; callers branch on it. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** True when `err` carries `code` (any object with a matching `code` property counts). */
export function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** The codes of the errors `@mesh/core` defines. */
export const ErrorCodes = {
  /** A WireGuard key that does not parse. */
  INVALID_KEY: 'ERR_INVALID_KEY',
  /** An option or argument out of range. */
  INVALID_ARGUMENT: 'ERR_INVALID_ARGUMENT',
  /** An operation cancelled through its AbortSignal. */
  ABORTED: 'ERR_ABORTED',
  /** An operation that ran out of time. */
  TIMEOUT: 'ERR_TIMEOUT',
  /** A call on an object that was closed or stopped. */
  CLOSED: 'ERR_CLOSED',
} as const;

/** A WireGuard key that does not parse (`ERR_INVALID_KEY`). */
export class InvalidKeyError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.INVALID_KEY, message, options);
  }
}

/** An option or argument out of range (`ERR_INVALID_ARGUMENT`). */
export class InvalidArgumentError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.INVALID_ARGUMENT, message, options);
  }
}

/** An operation cancelled through its AbortSignal (`ERR_ABORTED`). */
export class AbortError extends MeshError {
  constructor(message = 'the operation was aborted', options?: { cause?: unknown }) {
    super(ErrorCodes.ABORTED, message, options);
  }
}

/** An operation that ran out of time (`ERR_TIMEOUT`). */
export class TimeoutError extends MeshError {
  constructor(message = 'the operation timed out', options?: { cause?: unknown }) {
    super(ErrorCodes.TIMEOUT, message, options);
  }
}

/** A call on an object that was already closed or stopped (`ERR_CLOSED`). */
export class ClosedError extends MeshError {
  constructor(message = 'the object is closed', options?: { cause?: unknown }) {
    super(ErrorCodes.CLOSED, message, options);
  }
}

/** Normalises anything thrown into an Error (for events and logs). */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
