export { LabError, type LabErrorCode, LabErrorCodes, type LabErrorDetails } from './errors.js';
export { type ExecOptions, type ExecResult, runCommand, runCommandOk } from './exec.js';
export {
  type CoturnHandle,
  type CoturnOptions,
  generateKeyPair,
  type KeyPair,
  Lab,
  type LabNats,
  type LabOptions,
  type PortForward,
  udpAgentScript,
  type WireguardGoHandle,
  type WireguardGoOptions,
} from './lab.js';
export {
  type BaseRole,
  type LabNamespaces,
  type NatRole,
  netnsName,
  newRunId,
  OPTIONAL_ROLES,
  type OptionalRole,
  type PeerRole,
  parseNetnsName,
  ROLES,
  type Role,
} from './names.js';
export {
  type Outage,
  OutageMonitor,
  type OutageMonitorEvents,
  type OutageMonitorOptions,
  type OutageReport,
  OutageTracker,
  type PingLine,
  type ProbeResult,
  parsePingLine,
} from './outage.js';
export {
  LabProcess,
  type LabProcessEvents,
  type LabProcessExit,
  type LinePredicate,
  type SpawnOptions,
  type WaitForLineOptions,
} from './process.js';
export { type CleanupReport, cleanupLeftoverLabs, findLeftovers, type LabRecord, readLabState } from './registry.js';
export { isStun, parseStunBindingResponse, stunBindingRequest, stunBindingResponse } from './stun.js';
export {
  BASE_ADDR,
  DEV,
  type Direction,
  type LabAddresses,
  type NatKind,
  type NetemOptions,
  type Proto,
  SVC_NET,
  UPLINKS,
  type Uplink,
} from './topology.js';
export { type Datagram, UdpAgent, type UdpAgentOptions } from './udp-agent-client.js';
