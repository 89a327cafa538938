export { describeIceAgentContract, type IceAgentContractSetup } from './agent-contract.js';
export { FakeIceAgent, FakeIceNetwork, type FakeIceNetworkOptions } from './fake-agent.js';
