import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

/** Every workspace package (packages/*, examples/*, tools/*) by name → its folder. */
function workspacePackages(): Map<string, string> {
  const out = new Map<string, string>();
  for (const group of ['packages', 'examples', 'tools']) {
    for (const dir of readdirSync(`${root}${group}`, { withFileTypes: true })) {
      const pkg = `${root}${group}/${dir.name}/package.json`;
      if (!dir.isDirectory() || !existsSync(pkg)) continue;
      out.set(JSON.parse(readFileSync(pkg, 'utf8')).name, `${root}${group}/${dir.name}`);
    }
  }
  return out;
}

/**
 * Shared vitest config. Every `@mesh/<pkg>`, `@mesh/<pkg>/testing` and `@mesh/<pkg>/testing/contract`
 * import resolves to that package's sources, so tests of one package never run against a stale
 * build of another.
 * kind 'unit': test/**\/*.test.ts (fake clock, loopback real components); kind 'lab': test/lab/**\/*.lab.ts
 * (network namespaces, root).
 */
export function meshVitest(name: string, kind: 'unit' | 'lab' = 'unit') {
  const reportFile = `${root}.reports/${name.replace('@mesh/', '')}.${kind}.json`;
  const alias = [...workspacePackages()].flatMap(([pkg, dir]) => [
    { find: new RegExp(`^${pkg}/testing/contract$`), replacement: `${dir}/src/testing/contract.ts` },
    { find: new RegExp(`^${pkg}/testing$`), replacement: `${dir}/src/testing/index.ts` },
    { find: new RegExp(`^${pkg}$`), replacement: `${dir}/src/index.ts` },
  ]);
  return defineConfig({
    resolve: { alias },
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
