export { type DisconnectCause, DROP_CAUSES, type DropCause, type RelayServerMetrics } from './metrics.js';
export {
  FaultInjectionDisabledError,
  instanceUrlOf,
  type PeerRef,
  type RelayFaults,
  RelayListenError,
  RelayServer,
  type RelayServerEvents,
  type RelayServerOptions,
  toPeerId,
} from './server.js';
