import { meshVitest } from '../../vitest.base.js';

// Benchmarks run as vitest files (aliases, TypeScript) that print numbers and assert nothing.
// bench/tunnel.bench.ts needs root (it builds a lab); forwarding.bench.ts does not.
const config = meshVitest('@mesh/wg-control', 'lab');
config.test = { ...config.test, include: ['bench/**/*.bench.ts'], reporters: ['default'] };
export default config;
