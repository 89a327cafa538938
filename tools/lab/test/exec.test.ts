import { hasCode } from '@mesh/core';
import { describe, expect, it } from 'vitest';
import { runCommand, runCommandOk } from '../src/exec.js';

describe('runCommand', () => {
  it('returns code and output, and passes input', async () => {
    const r = await runCommand(['sh', '-c', 'read x; echo "out $x"; echo err >&2; exit 3'], { input: 'hi\n' });
    expect(r).toEqual({ code: 3, signal: null, stdout: 'out hi\n', stderr: 'err\n' });
  });

  it('runCommandOk throws ERR_LAB_COMMAND_FAILED with the command and stderr', async () => {
    const err = await runCommandOk(['sh', '-c', 'echo boom >&2; exit 1']).catch((e: unknown) => e);
    expect(hasCode(err, 'ERR_LAB_COMMAND_FAILED')).toBe(true);
    expect((err as Error).message).toContain('boom');
    expect((err as { command: string[] }).command).toEqual(['sh', '-c', 'echo boom >&2; exit 1']);
  });

  it('times out with ERR_LAB_TIMEOUT and kills the command', async () => {
    const err = await runCommand(['sleep', '30'], { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(hasCode(err, 'ERR_LAB_TIMEOUT')).toBe(true);
  });

  it('aborts with ERR_ABORTED', async () => {
    const ac = new AbortController();
    const p = runCommand(['sleep', '30'], { signal: ac.signal });
    ac.abort();
    expect(hasCode(await p.catch((e: unknown) => e), 'ERR_ABORTED')).toBe(true);
  });

  it('a missing program is ERR_LAB_COMMAND_FAILED, not a crash', async () => {
    const err = await runCommand(['/nonexistent/program']).catch((e: unknown) => e);
    expect(hasCode(err, 'ERR_LAB_COMMAND_FAILED')).toBe(true);
  });
});
