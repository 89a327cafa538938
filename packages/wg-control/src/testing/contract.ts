/** The vitest suites (this entry needs vitest); `@mesh/wg-control/testing` loads without it. */
export { describeWgDeviceContract, type WgDeviceContractEnv } from './wg-device-contract.js';
