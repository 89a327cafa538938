export { type DatagramPathPair, describeDatagramPathContract } from './datagram-path-contract.js';
