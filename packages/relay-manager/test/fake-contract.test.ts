import { type PeerKey, silentLogger } from '@mesh/core';
import { FakeRelayNetwork } from '@mesh/relay-manager/testing';
import { describeRelayClientContract } from '@mesh/relay-manager/testing/contract';

describeRelayClientContract('FakeRelayNetwork', async () => {
  const net = new FakeRelayNetwork({ pongTimeoutMs: 200 });
  const server = net.addServer('rel://fake-1:1');
  const opts = (localKey: PeerKey) => ({ localKey, token: () => 'token', clock: net.clock, logger: silentLogger });
  return {
    makeClient: (key) => net.factory(server.url, opts(key)),
    makeUnreachableClient: (key) => net.factory('rel://nowhere:1', opts(key)),
    killServer: () => server.kill(),
    blackholeServer: () => server.halfOpen(),
    teardown: () => {},
  };
});
