#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { JsonLinesLogger, toError } from '@mesh/core';
import { parseCliArgs, USAGE } from './cli-args.js';
import { SignalServer } from './server.js';

/** This package's version, read at run time (dist/cli.js and src/cli.ts both sit one level down). */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

async function main(): Promise<void> {
  let server: SignalServer;
  let logger: JsonLinesLogger;
  try {
    const request = parseCliArgs(process.argv.slice(2));
    if (request.kind === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    if (request.kind === 'version') {
      process.stdout.write(`mesh-signal ${version()}\n`);
      return;
    }
    const { logLevel, ...options } = request.config;
    logger = new JsonLinesLogger({ level: logLevel, bindings: { service: 'mesh-signal' } });
    // Inside the try: an option the server refuses is a bad command line too (exit 2), not a crash.
    server = new SignalServer({ ...options, logger });
  } catch (err) {
    process.stderr.write(`mesh-signal: ${toError(err).message.split('\n')[0]}\n${USAGE}\n`);
    process.exit(2);
  }
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
