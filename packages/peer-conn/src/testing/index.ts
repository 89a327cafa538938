export { FakeWireGuard, type FakeWireGuardOptions } from './fake-wireguard.js';
export { MemorySignaler, MemorySignalHub, type SignalFaults, seededRandom } from './memory-signaler.js';
