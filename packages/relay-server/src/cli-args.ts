import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { InvalidArgumentError, type LogLevel } from '@mesh/core';

export const USAGE = `usage: mesh-relay --listen HOST:PORT --secret S --exposed-address rel://HOST:PORT
                  [--tls-cert FILE --tls-key FILE] [--metrics HOST:PORT] [--log-level LEVEL]
                  [--fault-control HOST:PORT]   (tests only: HTTP switches for fault injection)
  The secret may come from MESH_RELAY_SECRET instead of --secret.`;

export interface CliConfig {
  host: string;
  port: number;
  secret: string;
  exposedAddress: string;
  tls?: { cert: Buffer; key: Buffer };
  metrics?: { host: string; port: number };
  faultControl?: { host: string; port: number };
  logLevel: LogLevel;
}

/** `HOST:PORT` (IPv6 as `[::1]:PORT`) → parts; throws InvalidArgumentError. */
export function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) throw new InvalidArgumentError(`${flag} must be HOST:PORT, got ${JSON.stringify(text)}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error']);

/** Parses the command line (and MESH_RELAY_SECRET); throws InvalidArgumentError with a readable message. */
export function parseCliArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliConfig {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: 'string' },
        secret: { type: 'string' },
        'exposed-address': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        metrics: { type: 'string' },
        'fault-control': { type: 'string' },
        'log-level': { type: 'string' },
      },
    }) as { values: Record<string, string | undefined> });
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  const need = (name: string) => {
    const v = values[name];
    if (!v) throw new InvalidArgumentError(`--${name} is required`);
    return v;
  };
  const { host, port } = parseHostPort(need('listen'), '--listen');
  const secret = values.secret ?? env.MESH_RELAY_SECRET;
  if (!secret) throw new InvalidArgumentError('--secret (or MESH_RELAY_SECRET) is required');
  const logLevel = values['log-level'] ?? 'info';
  if (!LEVELS.has(logLevel)) throw new InvalidArgumentError(`--log-level must be one of ${[...LEVELS].join(', ')}`);
  const config: CliConfig = {
    host,
    port,
    secret,
    exposedAddress: need('exposed-address'),
    logLevel: logLevel as LogLevel,
  };
  const cert = values['tls-cert'];
  const key = values['tls-key'];
  if ((cert === undefined) !== (key === undefined))
    throw new InvalidArgumentError('--tls-cert and --tls-key go together');
  if (cert && key) {
    try {
      config.tls = { cert: readFileSync(cert), key: readFileSync(key) };
    } catch (err) {
      throw new InvalidArgumentError(`cannot read TLS files: ${(err as Error).message}`);
    }
  }
  if (values.metrics) config.metrics = parseHostPort(values.metrics, '--metrics');
  if (values['fault-control']) config.faultControl = parseHostPort(values['fault-control'], '--fault-control');
  return config;
}
