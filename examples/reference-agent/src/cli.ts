#!/usr/bin/env node
import { fstatSync } from 'node:fs';
import { text } from 'node:stream/consumers';
import { toError } from '@mesh/core';
import { main } from './main.js';

const code = await main(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  readStdin: () => text(process.stdin),
  stdoutStat: () => {
    try {
      return fstatSync(1);
    } catch {
      return null;
    }
  },
  untilStop: () =>
    new Promise((resolve) => {
      // `on`, not `once`: a second Ctrl-C during the clean stop must not kill us half-way.
      process.on('SIGINT', () => resolve({ reason: 'SIGINT' }));
      process.on('SIGTERM', () => resolve({ reason: 'SIGTERM' }));
      // A bug must not leave the interface behind: stop cleanly, then exit 1.
      const fatal = (error: unknown) => resolve({ reason: 'fatal', error: toError(error) });
      process.on('uncaughtException', fatal);
      process.on('unhandledRejection', fatal);
    }),
});
// Flush stdout before leaving: logs and `status` output may still be buffered in a pipe.
process.stdout.write('', () => process.exit(code));
