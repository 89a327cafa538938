import { hasCode } from '@mesh/core';
import { describe, expect, it } from 'vitest';
import {
  assertRunId,
  namespaceNames,
  newRunId,
  parseNetnsList,
  parseNetnsName,
  parseWgSocketName,
  wgIfname,
} from '../src/names.js';

describe('names', () => {
  it('run ids are 6 random [a-z0-9] characters', () => {
    const ids = new Set(Array.from({ length: 200 }, () => newRunId()));
    for (const id of ids) expect(id).toMatch(/^[a-z0-9]{6}$/);
    expect(ids.size).toBeGreaterThan(195);
  });

  it('rejects malformed run ids', () => {
    for (const bad of ['', 'ABC', 'a-b', '123456789', 'a b']) {
      expect(() => assertRunId(bad)).toThrow();
      try {
        assertRunId(bad);
      } catch (e) {
        expect(hasCode(e, 'ERR_LAB_INVALID')).toBe(true);
      }
    }
  });

  it('namespace names carry the run id and parse back; others are not ours', () => {
    const ns = namespaceNames('ab12');
    expect(ns).toEqual({
      peerA: 'mab12-peerA',
      natA: 'mab12-natA',
      inet: 'mab12-inet',
      natB: 'mab12-natB',
      peerB: 'mab12-peerB',
      svc: 'mab12-svc',
    });
    expect(parseNetnsName('mab12-natB')).toEqual({ runId: 'ab12', role: 'natB' });
    // optional namespaces only when asked for, and found as ours (leftover cleanup)
    expect(namespaceNames('ab12', ['natC'])).toEqual({ ...ns, natC: 'mab12-natC' });
    expect(parseNetnsName('mab12-natC')).toEqual({ runId: 'ab12', role: 'natC' });
    for (const other of ['peerA', 'mab12-svc2', 'xab12-peerA', 'mAB-peerA', 'm-peerA']) {
      expect(parseNetnsName(other)).toBeUndefined();
    }
  });

  it('parses `ip netns list` output with and without ids', () => {
    expect(parseNetnsList('mab-peerA (id: 3)\nfoo\n\n  mab-svc (id: 0)\n')).toEqual(['mab-peerA', 'foo', 'mab-svc']);
    expect(parseNetnsList('')).toEqual([]);
  });

  it('wireguard interface names fit IFNAMSIZ and map back to the run id', () => {
    const name = wgIfname('abcdefgh', 12);
    expect(name).toBe('mlabcdefgh_12');
    expect(name.length).toBeLessThanOrEqual(15);
    expect(parseWgSocketName(`${name}.sock`)).toBe('abcdefgh');
    expect(parseWgSocketName('wg0.sock')).toBeUndefined();
    expect(() => wgIfname('abcdefgh', 123456)).toThrow(/1-15/);
  });
});
