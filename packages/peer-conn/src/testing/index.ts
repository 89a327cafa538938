export { FakeWireGuard, type FakeWireGuardOptions } from './fake-wireguard.js';
export { MemorySignaler, MemorySignalHub, type SignalFaults } from './memory-signaler.js';
