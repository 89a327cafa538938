#!/usr/bin/env node
import { text } from 'node:stream/consumers';
import { main } from './main.js';

const code = await main(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  readStdin: () => text(process.stdin),
  untilSignal: () =>
    new Promise((resolve) => {
      // `on`, not `once`: a second Ctrl-C during the clean stop must not kill us half-way.
      process.on('SIGINT', () => resolve('SIGINT'));
      process.on('SIGTERM', () => resolve('SIGTERM'));
    }),
});
// Flush stdout before leaving: logs and `status` output may still be buffered in a pipe.
process.stdout.write('', () => process.exit(code));
