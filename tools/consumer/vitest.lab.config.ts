import { mergeConfig } from 'vitest/config';
import { meshVitest } from '../../vitest.base.js';

// Packing and `npm install` of the fresh project take a while on 2 cores: one generous hook.
export default mergeConfig(meshVitest('@mesh/consumer', 'lab'), {
  test: { testTimeout: 240_000, hookTimeout: 420_000 },
});
