export {
  type ClientState as FakeRelayClientState,
  FakeRelayClient,
  FakeRelayNetwork,
  type FakeRelayNetworkOptions,
  FakeRelayServer,
  type FakeRelayServerOptions,
} from './fake-relay.js';
export { FakeRelayConn } from './fake-relay-conn.js';
export { randomPeerKey } from './random-peer-key.js';
