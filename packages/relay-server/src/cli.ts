#!/usr/bin/env node
import type { Server } from 'node:http';
import { hasCode, JsonLinesLogger, toError } from '@mesh/core';
import { type CliCommand, parseCliArgs, USAGE, versionLine } from './cli-args.js';
import { serverPort, startFaultControl } from './fault-control.js';
import { RelayServer } from './server.js';

/** One line on stderr (then the usage for a usage error), no stack trace; exits with `code`. */
function fail(code: 1 | 2, err: unknown, usage = false): never {
  process.stderr.write(`mesh-relay: ${toError(err).message}\n${usage ? USAGE : ''}`);
  process.exit(code);
}

async function main(): Promise<void> {
  let cmd: CliCommand;
  try {
    cmd = parseCliArgs(process.argv.slice(2));
  } catch (err) {
    fail(2, err, true);
  }
  if (cmd.action === 'help' || cmd.action === 'version') {
    process.stdout.write(cmd.action === 'help' ? USAGE : versionLine());
    return;
  }
  const { config } = cmd;
  const logger = new JsonLinesLogger({ level: config.logLevel, bindings: { service: 'mesh-relay' } });
  let server: RelayServer;
  try {
    server = new RelayServer({
      host: config.host,
      port: config.port,
      secret: config.secret,
      exposedAddress: config.exposedAddress,
      logger,
      faultInjection: config.faultControl !== undefined,
      ...(config.tls ? { tls: config.tls } : {}),
      ...(config.metrics ? { metrics: config.metrics } : {}),
    });
  } catch (err) {
    fail(hasCode(err, 'ERR_INVALID_ARGUMENT') ? 2 : 1, err); // a bad value the checks above missed
  }
  let control: Server | undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('relay-shutdown', { signal });
    control?.close();
    control?.closeAllConnections();
    await server.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  try {
    await server.start();
    if (config.faultControl) {
      control = await startFaultControl(server.faults, config.faultControl.host, config.faultControl.port);
      logger.warn('relay-fault-control', { host: config.faultControl.host, port: serverPort(control) });
    }
    if (config.metrics) logger.info('relay-metrics', { ...server.metricsAddress() });
  } catch (err) {
    // A runtime failure (the port is taken, no permission): logged, one line on stderr, exit 1.
    logger.error('relay-start-failed', { error: toError(err) });
    await server.stop();
    fail(1, err);
  }
}

main().catch((err: unknown) => fail(1, err));
