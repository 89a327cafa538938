export { FakeIceAgent, FakeIceNetwork, type FakeIceNetworkOptions } from './fake-agent.js';
