import { readResults, resetResults, writeSummary } from '../../src/report.js';

// Runs in the main vitest process around the whole lab suite: a fresh results file before, the
// table (and .reports/chaos.json) after, whatever passed or failed.
export function setup(): void {
  resetResults();
}

export function teardown(): void {
  const results = readResults();
  if (results.length === 0) return;
  console.log(`\nchaos suite\n${writeSummary(results)}\n`);
}
