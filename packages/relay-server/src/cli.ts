#!/usr/bin/env node
import type { Server } from 'node:http';
import { JsonLinesLogger, toError } from '@mesh/core';
import { parseCliArgs, USAGE } from './cli-args.js';
import { serverPort, startFaultControl } from './fault-control.js';
import { RelayServer } from './server.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof parseCliArgs>;
  try {
    config = parseCliArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`mesh-relay: ${toError(err).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const logger = new JsonLinesLogger({ level: config.logLevel, bindings: { service: 'mesh-relay' } });
  const server = new RelayServer({
    host: config.host,
    port: config.port,
    secret: config.secret,
    exposedAddress: config.exposedAddress,
    logger,
    faultInjection: config.faultControl !== undefined,
    ...(config.tls ? { tls: config.tls } : {}),
    ...(config.metrics ? { metrics: config.metrics } : {}),
  });
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
    logger.error('relay-start-failed', { error: toError(err) });
    await server.stop();
    process.exit(1);
  }
}

void main();
