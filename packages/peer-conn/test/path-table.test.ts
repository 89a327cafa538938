import { MemoryPath } from '@mesh/core';
import { describe, expect, it } from 'vitest';
import { bestPath, type Slot } from '../src/parts/path-table.js';

const slot = (kind: Slot['kind'], s: Partial<Slot> = {}): Slot => ({
  path: MemoryPath.pair()[0],
  kind,
  alive: null,
  dead: false,
  reopened: false,
  everAlive: false,
  lossPct: null,
  answeredAt: null,
  carrying: false,
  ...s,
});

describe('bestPath', () => {
  const rows: { name: string; slots: (Slot | null)[]; want: Slot['kind'] | null }[] = [
    { name: 'nothing', slots: [null, null], want: null },
    { name: 'relay only', slots: [null, slot('relay')], want: 'relay' },
    { name: 'direct beats relay', slots: [slot('ice-direct'), slot('relay')], want: 'ice-direct' },
    { name: 'turn beats relay', slots: [slot('ice-turn'), slot('relay')], want: 'ice-turn' },
    {
      name: 'a silent direct path loses to a live relay',
      slots: [slot('ice-direct', { alive: false }), slot('relay')],
      want: 'relay',
    },
    { name: 'a dead direct path loses', slots: [slot('ice-direct', { dead: true }), slot('relay')], want: 'relay' },
    {
      name: 'unknown verdict still counts',
      slots: [slot('ice-direct', { alive: null }), slot('relay', { alive: true })],
      want: 'ice-direct',
    },
    { name: 'all silent', slots: [slot('ice-direct', { alive: false }), slot('relay', { alive: false })], want: null },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(bestPath(row.slots)?.kind ?? null).toBe(row.want);
    });
  }

  it('ICE demoted for loss ranks below the relay, but above nothing', () => {
    expect(bestPath([slot('ice-direct'), slot('relay')], true)?.kind).toBe('relay');
    expect(bestPath([slot('ice-turn'), slot('relay')], true)?.kind).toBe('relay');
    expect(bestPath([slot('ice-direct'), slot('relay', { alive: false })], true)?.kind).toBe('ice-direct');
    expect(bestPath([slot('ice-direct')], true)?.kind).toBe('ice-direct');
    expect(bestPath([slot('ice-direct'), slot('relay')], false)?.kind).toBe('ice-direct');
  });

  it('a closed path is never chosen', () => {
    const s = slot('ice-direct');
    s.path.close();
    expect(bestPath([s, slot('relay')])?.kind).toBe('relay');
  });
});
