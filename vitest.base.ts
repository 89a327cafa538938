import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * Shared vitest config. `@mesh/<pkg>` and `@mesh/<pkg>/testing` resolve to sources, so tests of one
 * package never run against a stale build of another.
 * kind 'unit': test/**\/*.test.ts (fake clock, loopback real components); kind 'lab': test/lab/**\/*.lab.ts
 * (network namespaces, root).
 */
export function meshVitest(name: string, kind: 'unit' | 'lab' = 'unit') {
  const reportFile = `${root}.reports/${name.replace('@mesh/', '')}.${kind}.json`;
  return defineConfig({
    resolve: {
      alias: [
        { find: /^@mesh\/([a-z-]+)\/testing$/, replacement: `${root}packages/$1/src/testing/index.ts` },
        { find: /^@mesh\/lab$/, replacement: `${root}tools/lab/src/index.ts` },
        { find: /^@mesh\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
      ],
    },
    test: {
      name,
      environment: 'node',
      include: kind === 'unit' ? ['test/**/*.test.ts'] : ['test/lab/**/*.lab.ts'],
      testTimeout: kind === 'unit' ? 20_000 : 180_000,
      hookTimeout: kind === 'unit' ? 20_000 : 120_000,
      fileParallelism: kind === 'unit',
      reporters: ['default', ['json', { outputFile: reportFile }]],
    },
  });
}
