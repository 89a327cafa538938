export {
  NetMonitorError,
  NetMonitorErrorCodes,
  NetMonitorFailedError,
  NetMonitorNotStartedError,
  NetMonitorReadError,
  NetMonitorUnavailableError,
} from './errors.js';
export { createNetworkMonitor, LinuxNetworkMonitor } from './linux.js';
export { PollingNetworkMonitor } from './polling.js';
export type * from './types.js';
