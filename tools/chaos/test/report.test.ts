import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatTable, percentile, writeSummary } from '../src/report.js';

describe('percentile', () => {
  it('nearest rank', () => {
    expect(percentile([5, 1, 3], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 95)).toBe(4);
    expect(percentile([7], 0)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('the suite table', () => {
  const results = [
    { scenario: '§15 stale relay entry', outagesMs: [1456, 2000, 900], offers: 6, teardowns: 1 },
    { scenario: '§5 IP change', outagesMs: [], offers: 0, teardowns: 0 },
  ];

  it('has scenario, trials, outage p50/max, offers, tear-downs', () => {
    const lines = formatTable(results).split('\n');
    expect(lines[0]).toMatch(/^scenario\s+trials\s+outage p50\s+outage max\s+offers\s+tear-downs$/);
    expect(lines[2]).toMatch(/^§15 stale relay entry\s+3\s+1\.46 s\s+2\.00 s\s+6\s+1$/);
    expect(lines[3]).toMatch(/^§5 IP change\s+0\s+-\s+-\s+0\s+0$/);
  });

  it('writes chaos.json with p50/max filled in', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chaos-report-'));
    try {
      const file = join(dir, 'chaos.json');
      writeSummary(results, file);
      const json = JSON.parse(readFileSync(file, 'utf8'));
      expect(json.scenarios[0]).toMatchObject({
        scenario: '§15 stale relay entry',
        outageP50Ms: 1456,
        outageMaxMs: 2000,
      });
      expect(json.scenarios[1].outageMaxMs).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
