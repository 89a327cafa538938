import { describe, expect, it } from 'vitest';
import { findLeftovers, type LabRecord, ORPHAN_MIN_AGE_MS, ownerAlive, parseProcStatStart } from '../src/registry.js';

const rec = (runId: string, pid: number, extra: Partial<LabRecord> = {}): LabRecord => ({
  runId,
  pid,
  pidStart: '100',
  createdAt: 0,
  namespaces: [`m${runId}-peerA`, `m${runId}-svc`],
  sockets: [],
  ...extra,
});

describe('leftover detection', () => {
  it('never touches a lab whose owner lives; removes one whose owner is dead, with its sockets', () => {
    const state = {
      records: [rec('live1', 10), rec('dead1', 11, { sockets: ['/var/run/wireguard/custom0.sock'] })],
      namespaces: [
        { name: 'mlive1-peerA', ageMs: 1e9 },
        { name: 'mdead1-peerA', ageMs: 5 },
        { name: 'someone-elses', ageMs: 1e9 },
      ],
      socketFiles: ['mllive1_0.sock', 'mldead1_0.sock', 'wg0.sock'],
    };
    const out = findLeftovers(state, (r) => r.pid === 10);
    expect(out).toHaveLength(1);
    expect(out[0]!.runId).toBe('dead1');
    expect(out[0]!.reason).toBe('owner-dead');
    expect(out[0]!.namespaces.sort()).toEqual(['mdead1-peerA', 'mdead1-svc']);
    expect(out[0]!.sockets.sort()).toEqual(['/var/run/wireguard/custom0.sock', '/var/run/wireguard/mldead1_0.sock']);
  });

  it('namespaces without a record are leftovers only once old (a lab may be being built)', () => {
    const state = {
      records: [],
      namespaces: [
        { name: 'myoung-peerA', ageMs: 1_000 },
        { name: 'mold-peerA', ageMs: ORPHAN_MIN_AGE_MS + 1 },
        { name: 'mold-natA', ageMs: ORPHAN_MIN_AGE_MS + 5 },
      ],
      socketFiles: [],
    };
    const out = findLeftovers(state, () => false);
    expect(out.map((l) => [l.runId, l.reason, l.namespaces.length])).toEqual([['old', 'no-record', 2]]);
  });

  it('owner is alive only with the same pid and start time (pid reuse is not the owner)', () => {
    const r = { pid: 42, pidStart: '555' };
    expect(ownerAlive(r, () => '555')).toBe(true);
    expect(ownerAlive(r, () => '777')).toBe(false);
    expect(ownerAlive(r, () => null)).toBe(false);
    expect(ownerAlive({ pid: process.pid, pidStart: null })).toBe(true);
  });

  it('reads the start time from /proc/<pid>/stat even when comm has spaces and parens', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    const stat = `1234 (we ird) name)) ${fields.join(' ')}`;
    expect(parseProcStatStart(stat)).toBe('22');
  });
});
