// toPeerId and PeerRef live in @mesh/relay-client now; re-exported for compatibility.
export { type PeerRef, toPeerId } from '@mesh/relay-client';
export type { RelayFaults } from './faults.js';
export { type DisconnectCause, DROP_CAUSES, type DropCause, type RelayServerMetrics } from './metrics.js';
export {
  FaultInjectionDisabledError,
  instanceUrlOf,
  RelayListenError,
  RelayServer,
  type RelayServerEvents,
  type RelayServerOptions,
} from './server.js';
