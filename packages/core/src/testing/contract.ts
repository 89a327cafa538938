/** The vitest suites (this entry needs vitest); `@mesh/core/testing` loads without it. */
export { type DatagramPathPair, describeDatagramPathContract } from './datagram-path-contract.js';
