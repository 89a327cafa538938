import { expect } from 'vitest';
import { recordResult } from '../../src/report.js';
import type { OutageMeasure } from '../../src/rig.js';

/** Budgets a scenario asserts: a generous outage bound plus "no loop" (offers and tear-downs bounded). */
export interface Budget {
  maxOutageMs: number;
  maxOffers: number;
  maxTeardowns: number;
}

/** Asserts one trial against its budget; the message carries the numbers and the agents' tails. */
export function expectWithin(m: OutageMeasure, budget: Budget, context: () => string): void {
  const numbers = `outage ${m.outageMs} ms (max ${m.maxOutageMs}, ${m.outages} outages), recovered after ${m.recoveredAfterMs} ms, delta ${JSON.stringify(m.delta)}`;
  expect(m.outageMs, `${numbers}\n${context()}`).toBeLessThanOrEqual(budget.maxOutageMs);
  expect(m.delta.offersSent, `offers: ${numbers}`).toBeLessThanOrEqual(budget.maxOffers);
  expect(m.delta.relayTeardowns, `tear-downs: ${numbers}`).toBeLessThanOrEqual(budget.maxTeardowns);
}

/**
 * Adds a scenario's trials to the suite's table. `outageOf` picks the number shown as the outage
 * (default: the in-tunnel outage after the fault began).
 */
export function record(
  scenario: string,
  trials: OutageMeasure[],
  extra?: Record<string, unknown>,
  outageOf: (m: OutageMeasure) => number = (m) => m.outageMs,
): void {
  recordResult({
    scenario,
    outagesMs: trials.map(outageOf),
    offers: trials.reduce((a, t) => a + t.delta.offersSent, 0),
    teardowns: trials.reduce((a, t) => a + t.delta.relayTeardowns, 0),
    ...(extra ? { extra } : {}),
  });
}
