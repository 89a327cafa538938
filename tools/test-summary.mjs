// Sums the vitest JSON reports in .reports/ into one closing line: "tests: N passed, N failed".
import { readdirSync, readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
const rows = [];
let files = [];
try {
  files = readdirSync('.reports').filter((f) => f.endsWith('.json'));
} catch {}
for (const f of files.sort()) {
  const r = JSON.parse(readFileSync(`.reports/${f}`, 'utf8'));
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
