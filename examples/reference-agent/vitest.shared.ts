import { fileURLToPath } from 'node:url';
import { meshVitest } from '../../vitest.base.js';

/** meshVitest, plus the signaling client: the shared aliases map @mesh/<name> to packages/<name> only. */
export function agentVitest(kind: 'unit' | 'lab') {
  const config = meshVitest('@mesh/reference-agent', kind);
  const alias = config.resolve?.alias;
  if (Array.isArray(alias)) {
    alias.unshift({
      find: /^@mesh\/example-signal$/,
      replacement: fileURLToPath(new URL('../signal-server/src/index.ts', import.meta.url)),
    });
  }
  return config;
}
