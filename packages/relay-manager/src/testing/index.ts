export {
  FakeRelayClient,
  FakeRelayConn,
  FakeRelayNetwork,
  type FakeRelayNetworkOptions,
  FakeRelayServer,
  type FakeRelayServerOptions,
} from './fake-relay.js';
export { describeRelayClientContract, type RelayClientContractEnv, randomPeerKey } from './relay-client-contract.js';
