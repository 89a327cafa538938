import { parseArgs } from 'node:util';
import { hasCode, JsonLinesLogger, toError } from '@mesh/core';
import { runAgent } from './agent.js';
import { loadConfig } from './config.js';
import { requestStatus } from './control.js';
import { UsageError } from './errors.js';
import { genkey, pubkey } from './keys.js';
import { formatStatusTable } from './status.js';

export const USAGE = `usage:
  mesh-agent genkey                              print a new private key
  mesh-agent pubkey < private.key                print its public key
  mesh-agent up --config FILE                    run the agent (SIGINT/SIGTERM: clean stop)
  mesh-agent status --config FILE [--json]       ask the running agent
exit codes: 0 ok, 1 failure, 2 usage or config error
`;

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  /** Resolves on the first SIGINT/SIGTERM, or on an uncaught error (`fatal`), for `up`. */
  untilStop(): Promise<{ reason: 'SIGINT' | 'SIGTERM' | 'fatal'; error?: Error }>;
}

/** Runs one command; resolves with the exit code. Never throws. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  try {
    return await command(argv, io);
  } catch (err) {
    const e = toError(err);
    if (hasCode(e, 'ERR_AGENT_USAGE')) {
      io.stderr(`mesh-agent: ${e.message}\n${USAGE}`);
      return 2;
    }
    if (hasCode(e, 'ERR_AGENT_CONFIG')) {
      io.stderr(`mesh-agent: config error: ${e.message}\n`);
      return 2;
    }
    io.stderr(`mesh-agent: ${e.message}\n`);
    return 1;
  }
}

async function command(argv: string[], io: CliIo): Promise<number> {
  const [cmd, ...rest] = argv;
  let values: { config?: string; json?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } },
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(toError(err).message);
  }
  const configFile = () => {
    if (!values.config) throw new UsageError(`${cmd} needs --config FILE`);
    return loadConfig(values.config);
  };
  switch (cmd) {
    case 'genkey':
      io.stdout(genkey());
      return 0;
    case 'pubkey':
      io.stdout(pubkey(await io.readStdin()));
      return 0;
    case 'status': {
      const status = await requestStatus(configFile().control.socket);
      io.stdout(values.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatusTable(status, Date.now()));
      return 0;
    }
    case 'up': {
      const config = configFile();
      const log = new JsonLinesLogger({ level: config.tuning.logLevel });
      const stop = io.untilStop(); // listening before anything exists: a stop during start-up waits for it
      const agent = await runAgent(config, { logger: log });
      const { reason, error } = await stop;
      if (error) log.error('agent-fatal', { error });
      log.info('agent-stopping', { reason });
      await agent.stop();
      return reason === 'fatal' ? 1 : 0;
    }
    case 'help':
    case '--help':
      io.stdout(USAGE);
      return 0;
    case undefined:
      throw new UsageError('no command given');
    default:
      throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
  }
}
