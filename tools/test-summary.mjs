// Sums the vitest JSON reports (.reports/<package>.unit.json, .lab.json) into one closing line:
// "tests: N passed, N failed". Other files there (e.g. the chaos table) are not test reports.
import { readdirSync, readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
const rows = [];
let files = [];
try {
  files = readdirSync('.reports').filter((f) => /\.(unit|lab)\.json$/.test(f));
} catch {}
for (const f of files.sort()) {
  const r = JSON.parse(readFileSync(`.reports/${f}`, 'utf8'));
  if (!Number.isInteger(r.numPassedTests) || !Number.isInteger(r.numFailedTests)) {
    console.error(`mesh: .reports/${f} is not a vitest JSON report`);
    process.exit(1);
  }
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  rows.push(`  ${f.replace(/\.json$/, '').padEnd(28)} ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
}
console.log(rows.join('\n'));
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (files.length === 0 || passed === 0) {
  console.error('mesh: no test reports found');
  process.exit(1);
}
process.exit(failed > 0 ? 1 : 0);
