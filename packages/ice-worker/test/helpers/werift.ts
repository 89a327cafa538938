import { createSocket } from 'node:dgram';
import { silentLogger, systemClock } from '@mesh/core';
import { AddressFilter, type IceAgentConfig, WeriftIceAgent } from '@mesh/ice-worker';

/** Loopback-only werift settings: host candidates on 127.0.0.1 and nothing else, no STUN. */
export const loopbackAgentConfig = {
  hostAddresses: ['127.0.0.1'],
  discoverHostAddresses: false,
} as const;

export function loopbackAgent(
  controlling: boolean,
  credentials: { ufrag: string; pwd: string },
  excluded: string[] = [],
): WeriftIceAgent {
  const config: IceAgentConfig = {
    controlling,
    credentials,
    ...loopbackAgentConfig,
    hostAddresses: [...loopbackAgentConfig.hostAddresses],
    excluded: new AddressFilter(excluded),
    clock: systemClock,
    logger: silentLogger,
  };
  return new WeriftIceAgent(config);
}

/** Sends one datagram to host:port from a throw-away loopback socket. */
export async function sendFromStranger(host: string, port: number, data: Buffer): Promise<void> {
  const sock = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => sock.send(data, port, host, (err) => (err ? reject(err) : resolve())));
  } finally {
    sock.close();
  }
}
