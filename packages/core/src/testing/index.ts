export { type DatagramPathPair, describeDatagramPathContract } from './datagram-path-contract.js';
export { seededRandom } from './seeded-random.js';
