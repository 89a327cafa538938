import { mergeConfig } from 'vitest/config';
import { meshVitest } from '../../vitest.base.js';

// Scenarios run serially (one lab at a time on 2 cores); the global setup prints the suite's table.
export default mergeConfig(meshVitest('@mesh/chaos', 'lab'), {
  test: { globalSetup: ['test/lab/summary.setup.ts'], testTimeout: 600_000, hookTimeout: 120_000 },
});
