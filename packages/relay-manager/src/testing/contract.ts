/** The vitest suites (this entry needs vitest); `@mesh/relay-manager/testing` loads without it. */
export { describeRelayClientContract, type RelayClientContractEnv } from './relay-client-contract.js';
