import { defineConfig, type Options } from 'tsup';

/** Shared build for every @mesh package: ESM only, .d.ts, sourcemaps. */
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
    treeshake: true,
    ...extra,
  });
}
