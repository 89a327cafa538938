import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { parseArgs } from 'node:util';
import { InvalidArgumentError, type LogLevel, toError } from '@mesh/core';
import { instanceUrlOf } from './server.js';

export const USAGE = `usage: mesh-relay --listen HOST:PORT --secret S --exposed-address rel://HOST:PORT [flags]

A relay server speaking NetBird relay protocol v1 over WebSocket; JSON-lines logs on stdout.

flags:
  --listen HOST:PORT            address to listen on (IPv6 as [::1]:PORT; port 0: any free port)
  --secret S                    shared secret of the relay tokens (or env MESH_RELAY_SECRET)
  --exposed-address URL         the instance URL clients advertise: rel://HOST:PORT, rels://HOST:PORT
                                (without a scheme: rels:// with TLS, rel:// without)
  --tls-cert FILE               serve wss:// with this certificate (PEM) ...
  --tls-key FILE                ... and this key (PEM); the two go together
  --metrics HOST:PORT           serve Prometheus metrics on GET /metrics
  --log-level LEVEL             trace, debug, info (default), warn, error
  --fault-control HOST:PORT     tests only: HTTP switches for fault injection
  -h, --help                    print this help and exit
  --version                     print the version and exit

exit codes: 0 ok (also after SIGINT/SIGTERM), 1 runtime failure (e.g. the port is taken),
2 usage error or bad flag value
`;

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

/** What the command line asks for: help, the version, or a server with this config. */
export type CliCommand = { action: 'help' } | { action: 'version' } | { action: 'serve'; config: CliConfig };

/** `mesh-relay 0.1.0`: the version in this package's package.json, read next to the built file. */
export function versionLine(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return `mesh-relay ${pkg.version}\n`;
}

/** `HOST:PORT` (IPv6 as `[::1]:PORT`) → parts; throws InvalidArgumentError. */
export function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) throw new InvalidArgumentError(`${flag} must be HOST:PORT, got ${JSON.stringify(text)}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error']);

/** parseArgs' first sentence ("Unknown option '--x'"), lower-cased: one line for stderr. */
const oneLine = (message: string) => {
  const first = message.split('. ')[0]!;
  return first.charAt(0).toLowerCase() + first.slice(1);
};

/**
 * Parses the command line (and MESH_RELAY_SECRET); throws InvalidArgumentError with a readable
 * one-line message. Every value is checked here (the exposed address, the TLS files' contents), so
 * a bad one is a usage error, not a failure of the server later.
 */
export function parseCliArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliCommand {
  let values: Record<string, string | boolean | undefined>;
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
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new InvalidArgumentError(oneLine(toError(err).message));
  }
  if (values.help) return { action: 'help' };
  if (values.version) return { action: 'version' };
  const str = (name: string) => values[name] as string | undefined;
  const need = (name: string) => {
    const v = str(name);
    if (!v) throw new InvalidArgumentError(`--${name} is required`);
    return v;
  };
  const exposed = str('exposed-address');
  if (exposed) {
    try {
      instanceUrlOf(exposed, str('tls-cert') !== undefined);
    } catch (err) {
      throw new InvalidArgumentError(`--exposed-address: ${toError(err).message}`);
    }
  }
  const { host, port } = parseHostPort(need('listen'), '--listen');
  const secret = str('secret') ?? env.MESH_RELAY_SECRET;
  if (!secret) throw new InvalidArgumentError('--secret (or MESH_RELAY_SECRET) is required');
  const exposedAddress = need('exposed-address');
  const logLevel = str('log-level') ?? 'info';
  if (!LEVELS.has(logLevel)) throw new InvalidArgumentError(`--log-level must be one of ${[...LEVELS].join(', ')}`);
  const config: CliConfig = { host, port, secret, exposedAddress, logLevel: logLevel as LogLevel };
  const cert = str('tls-cert');
  const key = str('tls-key');
  if ((cert === undefined) !== (key === undefined))
    throw new InvalidArgumentError('--tls-cert and --tls-key go together');
  if (cert && key) config.tls = readTls(cert, key);
  const metrics = str('metrics');
  if (metrics) config.metrics = parseHostPort(metrics, '--metrics');
  const faultControl = str('fault-control');
  if (faultControl) config.faultControl = parseHostPort(faultControl, '--fault-control');
  return { action: 'serve', config };
}

/** Reads the certificate and key and checks that TLS accepts them (PEM, and the key matches). */
function readTls(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  let tls: { cert: Buffer; key: Buffer };
  try {
    tls = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
  } catch (err) {
    throw new InvalidArgumentError(`cannot read TLS files: ${toError(err).message}`);
  }
  try {
    createSecureContext(tls);
  } catch (err) {
    throw new InvalidArgumentError(`--tls-cert/--tls-key: ${toError(err).message}`);
  }
  return tls;
}
