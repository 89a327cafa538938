import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One scenario's line in the suite's table. */
export interface ScenarioResult {
  /** e.g. '§15 stale relay entry'. */
  scenario: string;
  /** Outage of each trial through the tunnel (ms). */
  outagesMs: number[];
  /** Offers sent by both agents during the scenario. */
  offers: number;
  /** Relay entries torn down by both agents during the scenario. */
  teardowns: number;
  /** Anything else worth a column in chaos.json (budgets, RSS, packets/s, paths). */
  extra?: Record<string, unknown>;
}

/** Where the suite collects results (`.reports/` at the repo root, next to the vitest reports). */
export const REPORT_DIR =
  process.env.MESH_CHAOS_REPORT_DIR ?? join(fileURLToPath(new URL('../../../', import.meta.url)), '.reports');
const RESULTS_FILE = () => join(REPORT_DIR, 'chaos.results.jsonl');

export function resetResults(): void {
  rmSync(RESULTS_FILE(), { force: true });
}

/** Appends a scenario's result; test files run in separate workers, so they meet in a file. */
export function recordResult(result: ScenarioResult): void {
  mkdirSync(REPORT_DIR, { recursive: true });
  appendFileSync(RESULTS_FILE(), `${JSON.stringify(result)}\n`);
}

export function readResults(): ScenarioResult[] {
  if (!existsSync(RESULTS_FILE())) return [];
  return readFileSync(RESULTS_FILE(), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ScenarioResult);
}

/** Nearest-rank percentile (p in 0..100); NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

const fmtMs = (v: number) => (Number.isFinite(v) ? `${(v / 1000).toFixed(2)} s` : '-');

/** The table the suite prints: scenario, outage p50/max, offers, tear-downs. */
export function formatTable(results: readonly ScenarioResult[]): string {
  const rows = [
    ['scenario', 'trials', 'outage p50', 'outage max', 'offers', 'tear-downs'],
    ...results.map((r) => [
      r.scenario,
      String(r.outagesMs.length),
      fmtMs(percentile(r.outagesMs, 50)),
      fmtMs(r.outagesMs.length ? Math.max(...r.outagesMs) : Number.NaN),
      String(r.offers),
      String(r.teardowns),
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** Writes `.reports/chaos.json` (every result, with p50/max filled in) and returns the table. */
export function writeSummary(results: readonly ScenarioResult[], file = join(REPORT_DIR, 'chaos.json')): string {
  mkdirSync(dirname(file), { recursive: true });
  const rows = results.map((r) => ({
    ...r,
    outageP50Ms: percentile(r.outagesMs, 50),
    outageMaxMs: r.outagesMs.length ? Math.max(...r.outagesMs) : null,
  }));
  writeFileSync(file, `${JSON.stringify({ generatedAt: new Date().toISOString(), scenarios: rows }, null, 2)}\n`);
  return formatTable(results);
}
