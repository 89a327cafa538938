import type { CliIo } from '../src/main.js';

export type TestIo = CliIo & { out: string; err: string };

/** A CliIo that records stdout and stderr; stdin is `stdin`; `up` never gets a signal. */
export function testIo(stdin = '', extra: Partial<CliIo> = {}): TestIo {
  const r: TestIo = {
    out: '',
    err: '',
    stdout: (t) => {
      r.out += t;
    },
    stderr: (t) => {
      r.err += t;
    },
    readStdin: async () => stdin,
    untilStop: () => new Promise<never>(() => {}),
    ...extra,
  };
  return r;
}
