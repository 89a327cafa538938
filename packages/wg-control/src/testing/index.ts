export { FakeWireGuard, type FakeWireGuardOptions } from './fake-wireguard.js';
