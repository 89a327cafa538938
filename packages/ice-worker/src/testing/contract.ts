/** The vitest suites (this entry needs vitest); `@mesh/ice-worker/testing` loads without it. */
export { describeIceAgentContract, type IceAgentContractSetup } from './agent-contract.js';
