import { type PeerKey, silentLogger, systemClock } from '@mesh/core';
import { generateRelayToken } from '@mesh/relay-client';
import { defaultRelayClientFactory } from '@mesh/relay-manager';
import { describeRelayClientContract } from '@mesh/relay-manager/testing';
import { freePort, relayUrl, SECRET, startServer } from './real-helpers.js';

// The same contract the fake passes, against the real RelayClient and a real server on loopback.
describeRelayClientContract('RelayClient + RelayServer', async () => {
  const server = await startServer();
  const deadPort = await freePort();
  const opts = (localKey: PeerKey) => ({
    localKey,
    token: () => generateRelayToken(SECRET).toString('base64'),
    clock: systemClock,
    logger: silentLogger,
  });
  return {
    makeClient: (key) => defaultRelayClientFactory(server.instanceUrl, opts(key)),
    makeUnreachableClient: (key) => defaultRelayClientFactory(relayUrl(deadPort), opts(key)),
    killServer: () => server.stop(),
    teardown: () => server.stop(),
  };
});
