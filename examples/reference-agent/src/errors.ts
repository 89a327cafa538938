import { MeshError } from '@mesh/core';

export const AgentErrorCodes = {
  /** The config file is missing, unreadable, not JSON, or a field is wrong (`field` names it). */
  CONFIG: 'ERR_AGENT_CONFIG',
  /** Creating or configuring the WireGuard interface failed (`ip`, `wireguard-go`, UAPI). */
  INTERFACE: 'ERR_AGENT_INTERFACE',
  /** The control socket could not be reached or answered badly. */
  CONTROL: 'ERR_AGENT_CONTROL',
  /** Command-line usage error. */
  USAGE: 'ERR_AGENT_USAGE',
} as const;

/** A bad config. The message starts with the field path: `config.peers[1].publicKey: ...`. */
export class ConfigError extends MeshError {
  readonly field: string;
  constructor(field: string, reason: string, options?: { cause?: unknown }) {
    super(AgentErrorCodes.CONFIG, `${field}: ${reason}`, options);
    this.field = field;
  }
}

export class InterfaceError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(AgentErrorCodes.INTERFACE, message, options);
  }
}

export class ControlError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(AgentErrorCodes.CONTROL, message, options);
  }
}

/** A bad command line; `command` names the subcommand whose usage the CLI prints with it. */
export class UsageError extends MeshError {
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(AgentErrorCodes.USAGE, message);
    this.command = command;
  }
}
