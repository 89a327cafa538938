export { seededRandom } from '@mesh/core/testing';
export { fuzzFrames } from './fuzz.js';
