import { mergeConfig } from 'vitest/config';
import { meshVitest } from '../../vitest.base.js';

// Files run serially (one lab at a time on 2 cores: outage measurements need the CPU); only the two
// long, idle scenarios in budget-idle.lab.ts share their 10 min, each in its own lab. The global
// setup prints the suite's table.
export default mergeConfig(meshVitest('@mesh/chaos', 'lab'), {
  test: { globalSetup: ['test/lab/summary.setup.ts'], testTimeout: 600_000, hookTimeout: 120_000 },
});
