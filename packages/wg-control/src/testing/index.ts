export { describeWgDeviceContract, type WgDeviceContractEnv } from './wg-device-contract.js';
