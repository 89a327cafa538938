export { MemorySignaler, MemorySignalHub, type SignalFaults } from './memory-signaler.js';
export { type RelayExistsPolicy, withRelayExistsPolicy } from './relay-exists-policy.js';
