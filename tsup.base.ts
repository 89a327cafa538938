import { defineConfig, type Options } from 'tsup';

/**
 * Shared build for every @mesh package: ESM only, .d.ts, sourcemaps.
 *
 * No `treeshake` option: it sends every chunk through rollup again, and rollup's `generate()`
 * appends its own `//# sourceMappingURL=` comment to the code before tsup appends one more, so
 * each file ended with two. esbuild already drops unused code from ESM bundles.
 */
export function meshTsup(entry: Options['entry'] = ['src/index.ts'], extra: Options = {}) {
  return defineConfig({
    entry,
    format: ['esm'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node22',
    platform: 'node',
    splitting: true,
    ...extra,
  });
}

/**
 * A package with `index`, `testing/index` and, with `contract`, `testing/contract`: the vitest
 * suites, kept out of `testing/index` so that entry loads without vitest (vitest stays external).
 */
export function meshTsupWithTesting({ contract = false }: { contract?: boolean } = {}) {
  const entry: Record<string, string> = { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' };
  if (!contract) return meshTsup(entry);
  return meshTsup({ ...entry, 'testing/contract': 'src/testing/contract.ts' }, { external: ['vitest'] });
}
