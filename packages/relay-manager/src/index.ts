export type {
  RelayClientFactory,
  RelayClientFactoryOptions,
  RelayClientLike,
  RelayClientLikeEvents,
} from './client.js';
export { defaultRelayClientFactory } from './default-client.js';
export {
  RelayDialError,
  RelayManagerErrorCodes,
  RelayNoHomeError,
  RelayNotStartedError,
  RelayStoppedError,
} from './errors.js';
export type { HomeChangedInfo, ReconnectedInfo, RelayDisconnectedInfo, RelayManagerEvents } from './events.js';
export { RelayManager, type RelayManagerOptions } from './manager.js';
