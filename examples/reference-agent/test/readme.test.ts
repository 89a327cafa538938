import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

const read = (rel: string) => readFileSync(new URL(rel, import.meta.url), 'utf8');

it('the top README shows the core loop exactly as src/minimal.ts has it', () => {
  const readme = read('../../../README.md');
  const block = /<!-- core-loop:start -->\n```ts\n([\s\S]*?)```\n<!-- core-loop:end -->/.exec(readme)?.[1];
  const source = read('../src/minimal.ts');
  const start = source.indexOf('export async function runMinimalAgent(');
  const fn = source.slice(start, source.indexOf('\n}\n', start) + 3);
  expect(start).toBeGreaterThan(0);
  expect(block).toBe(fn);
});
