export {
  type ClientState as FakeRelayClientState,
  FakeRelayClient,
  FakeRelayConn,
  FakeRelayNetwork,
  type FakeRelayNetworkOptions,
  FakeRelayServer,
  type FakeRelayServerOptions,
} from './fake-relay.js';
export { randomPeerKey } from './random-peer-key.js';
