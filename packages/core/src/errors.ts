/**
 * Every error mesh throws or emits is a MeshError with a stable `code`. Callers branch on the code,
 * never on the message or the class identity (two copies of a package may be loaded).
 */
export class MeshError extends Error {
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

export const ErrorCodes = {
  INVALID_KEY: 'ERR_INVALID_KEY',
  INVALID_ARGUMENT: 'ERR_INVALID_ARGUMENT',
  ABORTED: 'ERR_ABORTED',
  TIMEOUT: 'ERR_TIMEOUT',
  CLOSED: 'ERR_CLOSED',
} as const;

export class InvalidKeyError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.INVALID_KEY, message, options);
  }
}

export class InvalidArgumentError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.INVALID_ARGUMENT, message, options);
  }
}

export class AbortError extends MeshError {
  constructor(message = 'the operation was aborted', options?: { cause?: unknown }) {
    super(ErrorCodes.ABORTED, message, options);
  }
}

export class TimeoutError extends MeshError {
  constructor(message = 'the operation timed out', options?: { cause?: unknown }) {
    super(ErrorCodes.TIMEOUT, message, options);
  }
}

export class ClosedError extends MeshError {
  constructor(message = 'the object is closed', options?: { cause?: unknown }) {
    super(ErrorCodes.CLOSED, message, options);
  }
}

/** Normalises anything thrown into an Error (for events and logs). */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
