import { describe, expect, it } from 'vitest';
import { JsonLinesLogger, MeshError, silentLogger } from '../src/index.js';

describe('JsonLinesLogger', () => {
  it('writes one JSON object per line with ts, level, event, bindings and fields', () => {
    const lines: string[] = [];
    const log = new JsonLinesLogger({ level: 'debug', write: (l) => lines.push(l), now: () => 0 });
    log.child({ peer: 'abc' }).info('path-changed', { from: 'relay', to: 'ice-direct' });
    log.trace('hidden');
    log.error('failed', { err: new MeshError('ERR_X', 'boom'), n: 10n, buf: Buffer.alloc(3) });
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l.endsWith('\n'))).toBe(true);
    expect(JSON.parse(lines[0]!)).toEqual({
      ts: '1970-01-01T00:00:00.000Z',
      level: 'info',
      event: 'path-changed',
      peer: 'abc',
      from: 'relay',
      to: 'ice-direct',
    });
    const second = JSON.parse(lines[1]!);
    expect(second.err).toEqual({ message: 'boom', code: 'ERR_X', name: 'MeshError' });
    expect(second.n).toBe('10');
    expect(second.buf).toBe('<3 bytes>');
  });

  it('filters by level and child bindings accumulate', () => {
    const lines: string[] = [];
    const log = new JsonLinesLogger({ level: 'warn', write: (l) => lines.push(l) });
    log.info('no');
    log.child({ a: 1 }).child({ b: 2 }).warn('yes');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ a: 1, b: 2, event: 'yes', level: 'warn' });
  });

  it('silent logger accepts everything', () => {
    expect(() => silentLogger.child({ x: 1 }).error('e', { y: 2 })).not.toThrow();
  });
});
