export { FakeWireGuard, type FakeWireGuardOptions } from './fake-wireguard.js';
export { describeWgDeviceContract, type WgDeviceContractEnv } from './wg-device-contract.js';
