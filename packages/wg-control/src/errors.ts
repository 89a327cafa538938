import { MeshError } from '@mesh/core';

/** Error codes of @mesh/wg-control (besides core's ERR_INVALID_KEY, ERR_INVALID_ARGUMENT, ERR_TIMEOUT, ERR_ABORTED, ERR_CLOSED). */
export const WgErrorCodes = {
  /** The device is not there: UAPI socket missing or refusing connections, or `wg` finds no such interface. */
  DEVICE_NOT_RUNNING: 'ERR_WG_DEVICE_NOT_RUNNING',
  /** The device refused an operation with an errno (negative, as the UAPI reports it). */
  ERRNO: 'ERR_WG_ERRNO',
  /** The device's reply could not be parsed. */
  PROTOCOL: 'ERR_WG_PROTOCOL',
  /** The UAPI socket failed in another way (permission denied, reset before the request was sent). */
  IO: 'ERR_WG_IO',
  /** The `wg` tool failed in a way that is neither of the above (not installed, killed, unknown output). */
  COMMAND: 'ERR_WG_COMMAND',
} as const;

/** The device is not there (`ERR_WG_DEVICE_NOT_RUNNING`): no UAPI socket, or no such interface for `wg`. */
export class WgDeviceNotRunningError extends MeshError {
  /** Name of the interface that is not running. */
  readonly device: string;
  constructor(device: string, message: string, options?: { cause?: unknown }) {
    super(WgErrorCodes.DEVICE_NOT_RUNNING, message, options);
    this.device = device;
  }
}

/** The device refused an operation with an errno (`ERR_WG_ERRNO`). */
export class WgErrnoError extends MeshError {
  /** Negative errno as the UAPI returns it, e.g. -98 (EADDRINUSE). */
  readonly errno: number;
  /** The operation that failed, e.g. `setListenPort`. */
  readonly operation: string;
  constructor(operation: string, errno: number, detail: string) {
    super(WgErrorCodes.ERRNO, `${operation} failed: errno ${errno} (${errnoName(errno)}) for ${detail}`);
    this.errno = errno;
    this.operation = operation;
  }
}

/** The device's reply could not be parsed (`ERR_WG_PROTOCOL`). */
export class WgProtocolError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(WgErrorCodes.PROTOCOL, message, options);
  }
}

/** The UAPI socket failed in another way (`ERR_WG_IO`). */
export class WgIoError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(WgErrorCodes.IO, message, options);
  }
}

/** The `wg` tool failed otherwise: not installed, killed, unknown output (`ERR_WG_COMMAND`). */
export class WgCommandError extends MeshError {
  /** What `wg` wrote to stderr (may be empty). */
  readonly stderr: string;
  constructor(message: string, stderr = '', options?: { cause?: unknown }) {
    super(WgErrorCodes.COMMAND, message, options);
    this.stderr = stderr;
  }
}

// The errnos wireguard-go / the kernel return for configuration (Linux numbering), with the strerror
// text `wg` prints, so both backends report the same errno.
const ERRNOS: ReadonlyArray<readonly [number, string, string]> = [
  [1, 'EPERM', 'Operation not permitted'],
  [2, 'ENOENT', 'No such file or directory'],
  [5, 'EIO', 'Input/output error'],
  [12, 'ENOMEM', 'Cannot allocate memory'],
  [19, 'ENODEV', 'No such device'],
  [22, 'EINVAL', 'Invalid argument'],
  [55, 'ENOBUFS', 'No buffer space available'],
  [71, 'EPROTO', 'Protocol error'],
  [97, 'EAFNOSUPPORT', 'Address family not supported by protocol'],
  [98, 'EADDRINUSE', 'Address already in use'],
  [99, 'EADDRNOTAVAIL', 'Cannot assign requested address'],
];

/** The symbolic name of a (negative or positive) Linux errno, e.g. `EADDRINUSE`; `unknown` when not listed. */
export function errnoName(errno: number): string {
  return ERRNOS.find(([n]) => n === Math.abs(errno))?.[1] ?? 'unknown';
}

/** Maps a strerror text as `wg` prints it back to a negative errno; undefined when unknown. */
export function errnoFromMessage(text: string): number | undefined {
  const hit = ERRNOS.find(([, , message]) => text.includes(message));
  return hit ? -hit[0] : undefined;
}
