import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { expect, it } from 'vitest';

const read = (rel: string) => readFileSync(new URL(rel, import.meta.url), 'utf8');
const readmeBlock = () =>
  /<!-- core-loop:start -->\n```ts\n([\s\S]*?)```\n<!-- core-loop:end -->/.exec(read('../../../README.md'))?.[1];

it('the top README shows the core loop exactly as src/minimal.ts has it, from its first import on', () => {
  const source = read('../src/minimal.ts');
  const start = source.search(/^import /m);
  const fn = source.indexOf('export async function runMinimalAgent(');
  const end = source.indexOf('\n}\n', fn) + 3;
  expect(start).toBeGreaterThanOrEqual(0);
  expect(fn).toBeGreaterThan(start);
  expect(end).toBeGreaterThan(fn);
  expect(readmeBlock()).toBe(source.slice(start, end));
});

it("the README's core loop imports only published packages", () => {
  const require = createRequire(import.meta.url);
  const specifiers = [...(readmeBlock() ?? '').matchAll(/^import [\s\S]*? from '([^']+)';$/gm)].map((m) => m[1]!);
  expect(specifiers.length).toBeGreaterThan(0);
  for (const specifier of specifiers) {
    if (specifier.startsWith('node:')) continue;
    expect(specifier, 'a package, not a file of this example').toMatch(/^@mesh\/[a-z-]+$/);
    const pkg = JSON.parse(readFileSync(require.resolve(`${specifier}/package.json`), 'utf8')) as {
      private?: boolean;
      publishConfig?: { access?: string };
    };
    expect(pkg.private, `${specifier} must not be private`).not.toBe(true);
    expect(pkg.publishConfig?.access, `${specifier} must be published`).toBe('public');
  }
});
