import { parseArgs } from 'node:util';
import { InvalidArgumentError, type LogLevel } from '@mesh/core';

export const USAGE = `usage: mesh-signal --listen HOST:PORT [--register-timeout MS] [--max-message-bytes N]
                   [--rate-limit MSGS_PER_S] [--rate-burst N] [--log-level LEVEL]
       mesh-signal --help | --version
  Logs are JSON lines on stdout; SIGTERM/SIGINT close every connection and exit 0.`;

export interface CliConfig {
  host: string;
  port: number;
  registerTimeoutMs?: number;
  maxMessageBytes?: number;
  rateLimit?: { messagesPerSecond: number; burst: number };
  logLevel: LogLevel;
}

/** What the command line asks for: the usage (`--help`, `-h`), the version, or a server. */
export type CliRequest = { kind: 'help' } | { kind: 'version' } | { kind: 'serve'; config: CliConfig };

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

/** Parses the command line; throws InvalidArgumentError with a message fit for the user. */
export function parseCliArgs(argv: string[]): CliRequest {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        listen: { type: 'string' },
        'register-timeout': { type: 'string' },
        'max-message-bytes': { type: 'string' },
        'rate-limit': { type: 'string' },
        'rate-burst': { type: 'string' },
        'log-level': { type: 'string' },
      },
    }) as { values: Record<string, string | boolean | undefined> });
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  return { kind: 'serve', config: serveConfig(values as Record<string, string | undefined>) };
}

function serveConfig(values: Record<string, string | undefined>): CliConfig {
  if (!values.listen) throw new InvalidArgumentError('--listen is required');
  // HOST:PORT, IPv6 as [::1]:PORT.
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(values.listen);
  if (!m || Number(m[3]) > 65535) {
    throw new InvalidArgumentError(`--listen must be HOST:PORT, got ${JSON.stringify(values.listen)}`);
  }
  const logLevel = values['log-level'] ?? 'info';
  if (!LEVELS.includes(logLevel)) throw new InvalidArgumentError(`--log-level must be one of ${LEVELS.join(', ')}`);
  const config: CliConfig = { host: (m[1] ?? m[2])!, port: Number(m[3]), logLevel: logLevel as LogLevel };
  const registerTimeoutMs = positiveInt(values['register-timeout'], '--register-timeout');
  if (registerTimeoutMs !== undefined) config.registerTimeoutMs = registerTimeoutMs;
  const maxMessageBytes = positiveInt(values['max-message-bytes'], '--max-message-bytes');
  if (maxMessageBytes !== undefined) config.maxMessageBytes = maxMessageBytes;
  const rate = positiveInt(values['rate-limit'], '--rate-limit');
  const burst = positiveInt(values['rate-burst'], '--rate-burst');
  if (rate !== undefined || burst !== undefined) {
    // One flag alone keeps the server's default for the other (100/s, burst 500).
    config.rateLimit = { messagesPerSecond: rate ?? 100, burst: burst ?? Math.max(500, rate ?? 0) };
  }
  return config;
}

function positiveInt(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) {
    throw new InvalidArgumentError(`${flag} must be a positive integer, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}
