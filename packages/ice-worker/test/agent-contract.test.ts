import { silentLogger, systemClock } from '@mesh/core';
import { AddressFilter } from '@mesh/ice-worker';
import { FakeIceNetwork } from '@mesh/ice-worker/testing';
import { describeIceAgentContract } from '@mesh/ice-worker/testing/contract';
import { loopbackAgent, sendFromStranger } from './helpers/werift.js';

describeIceAgentContract('WeriftIceAgent (loopback)', async () => ({
  create: ({ controlling, credentials, excluded }) => loopbackAgent(controlling, credentials, excluded),
  hostRange: '127.0.0.0/8',
  strangerSend: (target, data) => sendFromStranger(target.address, target.port, data),
  teardown: () => {},
}));

describeIceAgentContract('FakeIceAgent', async () => {
  const net = new FakeIceNetwork({ connectDelayMs: 5 });
  return {
    create: ({ controlling, credentials, excluded = [] }) =>
      net.factory({
        controlling,
        credentials,
        excluded: new AddressFilter(excluded),
        clock: systemClock,
        logger: silentLogger,
      }),
    hostRange: '10.99.0.0/16',
    // The fake has no addresses a stranger could reach: nothing to send.
    strangerSend: async () => {},
    teardown: () => {},
  };
});
