import { MeshError } from '@mesh/core';

/**
 * Stable codes of the errors @mesh/net-monitor emits or throws. Besides these: `start()` rejects
 * with core's `ERR_CLOSED` after `stop()` and `ERR_ABORTED` when its signal aborts; constructors
 * throw `ERR_INVALID_ARGUMENT` for bad options.
 */
export const NetMonitorErrorCodes = {
  /** The `ip` tool is missing or cannot be run: the Linux monitor polls instead (`error` event). */
  UNAVAILABLE: 'ERR_NETMON_UNAVAILABLE',
  /** `ip monitor` kept exiting, or `ip` kept failing to report the state: the Linux monitor polls instead (`error` event). */
  FAILED: 'ERR_NETMON_FAILED',
  /** One snapshot read failed (bad exit, unparsable output, timeout); the `cause` of `ERR_NETMON_FAILED`. */
  READ: 'ERR_NETMON_READ',
  /** `snapshot()` before `start()` resolved: no state is known yet. */
  NOT_STARTED: 'ERR_NETMON_NOT_STARTED',
} as const;

/** An error of a network monitor, with one of the NetMonitorErrorCodes. */
export class NetMonitorError extends MeshError {}

/** The `ip` tool is missing or cannot be run (`ERR_NETMON_UNAVAILABLE`). */
export class NetMonitorUnavailableError extends NetMonitorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(NetMonitorErrorCodes.UNAVAILABLE, message, options);
  }
}

/** `ip monitor` or `ip` snapshots kept failing (`ERR_NETMON_FAILED`). */
export class NetMonitorFailedError extends NetMonitorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(NetMonitorErrorCodes.FAILED, message, options);
  }
}

/** One snapshot read failed (`ERR_NETMON_READ`). */
export class NetMonitorReadError extends NetMonitorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(NetMonitorErrorCodes.READ, message, options);
  }
}

/** `snapshot()` before the first snapshot is known (`ERR_NETMON_NOT_STARTED`). */
export class NetMonitorNotStartedError extends NetMonitorError {
  constructor(message = 'the network monitor has not started: await start() first') {
    super(NetMonitorErrorCodes.NOT_STARTED, message);
  }
}
