#!/usr/bin/env node
import { JsonLinesLogger, toError } from '@mesh/core';
import { parseCliArgs, USAGE } from './cli-args.js';
import { SignalServer } from './server.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof parseCliArgs>;
  try {
    config = parseCliArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`mesh-signal: ${toError(err).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const logger = new JsonLinesLogger({ level: config.logLevel, bindings: { service: 'mesh-signal' } });
  const { logLevel: _, ...options } = config;
  const server = new SignalServer({ ...options, logger });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('signal-shutdown', { signal });
    await server.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  try {
    await server.start();
  } catch (err) {
    logger.error('signal-start-failed', { error: toError(err) });
    process.exit(1);
  }
}

void main();
