export { type Agent, minimalConfig, type RunAgentOptions, runAgent } from './agent.js';
export {
  type AgentConfig,
  DEFAULT_TUNING,
  type InterfaceMode,
  loadConfig,
  type ParseOptions,
  parseConfig,
  relayToken,
} from './config.js';
export {
  type ControlHandlers,
  type ControlReply,
  type ControlRequest,
  ControlServer,
  DEFAULT_RUN_DIR,
  defaultControlSocket,
  requestDown,
  requestStatus,
  runDir,
} from './control.js';
export { type FindAgentOptions, findAgentSocket } from './discover.js';
export { AgentErrorCodes, ConfigError, ControlError, InterfaceError, UsageError } from './errors.js';
export { type OpenInterfaceOptions, openInterface, type WgInterface } from './interface.js';
export { genkey, pubkey } from './keys.js';
export { MetricsServer, renderMetrics } from './metrics.js';
export {
  type AgentSignaler,
  type MinimalAgent,
  type MinimalAgentConfig,
  type MinimalAgentOverrides,
  runMinimalAgent,
} from './minimal.js';
export { type AgentStatus, collectStatus, formatStatusTable, handshakeAgeSec, type PeerStatus } from './status.js';
