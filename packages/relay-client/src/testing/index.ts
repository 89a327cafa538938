export { fuzzFrames, seededRandom } from './fuzz.js';
