import { MeshError } from '@mesh/core';

export const LabErrorCodes = {
  /** The lab needs root (network namespaces, iptables, TUN). */
  NOT_ROOT: 'ERR_LAB_NOT_ROOT',
  /** A command exited non-zero (or could not start); `command` and `stderr` say which and why. */
  COMMAND_FAILED: 'ERR_LAB_COMMAND_FAILED',
  /** A command, a wait for a line, or a readiness check ran past its deadline. */
  TIMEOUT: 'ERR_LAB_TIMEOUT',
  /** A process exited while something waited for its output. */
  PROCESS_EXITED: 'ERR_LAB_PROCESS_EXITED',
  /** The lab was destroyed; nothing more can be done with it. */
  DESTROYED: 'ERR_LAB_DESTROYED',
  /** Bad input: unknown namespace or role, malformed run id, wrong option. */
  INVALID: 'ERR_LAB_INVALID',
  /** The kernel lacks a feature (e.g. netem delay without CONFIG_NET_SCH_NETEM). */
  UNSUPPORTED: 'ERR_LAB_UNSUPPORTED',
  /** A build artefact the lab runs in a namespace (dist/udp-agent.js) is missing. */
  NOT_BUILT: 'ERR_LAB_NOT_BUILT',
} as const;

export type LabErrorCode = (typeof LabErrorCodes)[keyof typeof LabErrorCodes];

export interface LabErrorDetails {
  /** The failing command line (argv). */
  command?: readonly string[];
  exitCode?: number | null;
  signal?: string | null;
  stdout?: string;
  stderr?: string;
  cause?: unknown;
}

/** Every lab failure. `command`/`stderr` carry the failing command and what it said. */
export class LabError extends MeshError {
  readonly command: readonly string[] | undefined;
  readonly exitCode: number | null | undefined;
  readonly signal: string | null | undefined;
  readonly stdout: string | undefined;
  readonly stderr: string | undefined;

  constructor(code: LabErrorCode, message: string, details: LabErrorDetails = {}) {
    const tail = details.stderr?.trim() ? `\n--- stderr ---\n${clip(details.stderr)}` : '';
    super(code, `${message}${tail}`, { cause: details.cause });
    this.command = details.command;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.stdout = details.stdout;
    this.stderr = details.stderr;
  }
}

function clip(text: string, max = 4000): string {
  const t = text.trim();
  return t.length > max ? `…${t.slice(t.length - max)}` : t;
}
