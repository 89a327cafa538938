import { type PeerKey, silentLogger, systemClock } from '@mesh/core';
import { generateRelayToken, RelayClient } from '@mesh/relay-client';
import { defaultRelayClientFactory } from '@mesh/relay-manager';
import { describeRelayClientContract } from '@mesh/relay-manager/testing/contract';
import { freePort, relayUrl, SECRET, startBlackholeProxy, startServer } from './real-helpers.js';

// The same contract the fake passes, against the real RelayClient and a real server on loopback,
// reached through a TCP proxy that can turn every socket half-open.
describeRelayClientContract('RelayClient + RelayServer', async () => {
  const server = await startServer();
  const proxy = await startBlackholeProxy(server.address().port);
  const deadPort = await freePort();
  const opts = (localKey: PeerKey) => ({
    localKey,
    token: () => generateRelayToken(SECRET).toString('base64'),
    clock: systemClock,
    logger: silentLogger,
  });
  return {
    // A short pong deadline keeps the half-open case quick; the default is 3 s.
    makeClient: (key) =>
      new RelayClient({ url: relayUrl(proxy.port), ...opts(key), keepalive: { pongTimeoutMs: 1_000 } }),
    makeUnreachableClient: (key) => defaultRelayClientFactory(relayUrl(deadPort), opts(key)),
    killServer: () => server.stop(),
    blackholeServer: () => proxy.blackhole(),
    // Proxy first: a graceful stop would otherwise wait out its close bound on silenced sockets.
    teardown: async () => {
      await proxy.close();
      await server.stop();
    },
  };
});
