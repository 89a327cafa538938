import { describe, expect, it } from 'vitest';
import {
  followsRemoteToRelay,
  QUALITY,
  QualityGate,
  type QualitySample,
  type QualitySwitch,
  qualityCondition,
} from '../src/index.js';
import { networkReaction } from '../src/parts/network.js';

const s = (lossPct: number | null, usable = true, answering = true): QualitySample => ({ lossPct, usable, answering });

describe('qualityCondition (pure)', () => {
  it.each([
    { name: 'ICE unmeasured', ice: s(null), relay: s(0), want: 'neutral' },
    { name: 'no ICE', ice: null, relay: s(0), want: 'neutral' },
    { name: 'ICE clean', ice: s(0), relay: s(0), want: 'ice-clean' },
    { name: 'ICE at the clean bound', ice: s(QUALITY.CLEAN_PCT), relay: null, want: 'ice-clean' },
    { name: 'ICE 30 %, relay 0 %', ice: s(30), relay: s(0), want: 'ice-lossy' },
    { name: 'ICE 30 %, relay unmeasured', ice: s(30), relay: s(null), want: 'neutral' },
    { name: 'ICE 30 %, relay unusable', ice: s(30), relay: s(0, false), want: 'neutral' },
    { name: 'ICE 30 %, no relay', ice: s(30), relay: null, want: 'neutral' },
    { name: 'ICE 30 %, relay 20 % (not clearly better)', ice: s(30), relay: s(20), want: 'neutral' },
    { name: 'ICE 10 % (neither clean nor lossy)', ice: s(10), relay: s(0), want: 'neutral' },
    { name: 'ICE unusable', ice: s(0, false), relay: s(0), want: 'neutral' },
  ] as const)('$name → $want', ({ ice, relay, want }) => {
    expect(qualityCondition(ice, relay)).toBe(want);
  });
});

describe('followsRemoteToRelay (pure)', () => {
  it.each([
    { name: 'ICE 10 %, relay 0 %', ice: s(QUALITY.FOLLOW_PCT), relay: s(0), want: true },
    { name: 'ICE 50 %, relay 10 %', ice: s(50), relay: s(10), want: true },
    { name: 'ICE clean (the remote moved for its own reasons)', ice: s(0), relay: s(0), want: false },
    { name: 'ICE just under the follow bound', ice: s(QUALITY.FOLLOW_PCT - 1), relay: s(0), want: false },
    { name: 'ICE unmeasured', ice: s(null), relay: s(0), want: false },
    { name: 'relay unmeasured', ice: s(30), relay: s(null), want: false },
    { name: 'relay unusable', ice: s(30), relay: s(0, false), want: false },
    { name: 'relay as lossy as ICE', ice: s(30), relay: s(30), want: false },
    { name: 'ICE unusable', ice: s(30, false), relay: s(0), want: false },
    { name: 'ICE no longer answering (dying, not lossy)', ice: s(30, true, false), relay: s(0), want: false },
  ] as const)('$name → $want', ({ ice, relay, want }) => {
    expect(followsRemoteToRelay(ice, relay)).toBe(want);
  });
});

/** Feeds one sample per second: `lossAt(t)` gives ICE's loss at second t; the relay is clean. */
function run(gate: QualityGate, seconds: number, lossAt: (t: number) => number | null, from = 0) {
  const switches: { t: number; s: QualitySwitch }[] = [];
  for (let t = from; t < from + seconds; t++) {
    const sw = gate.onSample(t * 1000, s(lossAt(t)), s(0));
    if (sw) switches.push({ t, s: sw });
  }
  return switches;
}

describe('QualityGate (hysteresis)', () => {
  it('30 % loss for 60 s: demoted once within seconds, promoted once after the loss ends, no flapping', () => {
    const gate = new QualityGate();
    // ICE measured clean for 10 s, lossy from t=10 to t=70 (the estimate lags a few seconds), clean after.
    const loss = (t: number) => (t < 15 ? 0 : t < 72 ? 30 : t < 82 ? 10 : 0);
    const switches = run(gate, 200, loss);
    expect(switches).toEqual([
      { t: 15 + QUALITY.DEMOTE_AFTER_MS / 1000, s: 'demote' },
      { t: 82 + QUALITY.PROMOTE_AFTER_MS / 1000, s: 'promote' },
    ]);
  });

  it('a demotion lasts its dwell even when ICE looks clean at once', () => {
    const gate = new QualityGate();
    const switches = run(gate, 60, (t) => (t < 5 ? 40 : 0));
    const demoteAt = QUALITY.DEMOTE_AFTER_MS / 1000;
    expect(switches[0]).toEqual({ t: demoteAt, s: 'demote' });
    expect(switches[1]).toEqual({ t: demoteAt + QUALITY.MIN_DWELL_MS / 1000, s: 'promote' });
  });

  it('a path bad on and off: the dwell doubles and switches stay bounded per minute', () => {
    const gate = new QualityGate();
    // 10 s lossy, 10 s clean, forever: each relapse after a promotion doubles the dwell.
    const switches = run(gate, 600, (t) => (Math.floor(t / 10) % 2 === 0 ? 50 : 0));
    const perMinute = new Map<number, number>();
    for (const { t } of switches) perMinute.set(Math.floor(t / 60), (perMinute.get(Math.floor(t / 60)) ?? 0) + 1);
    expect(Math.max(...perMinute.values())).toBeLessThanOrEqual(QUALITY.MAX_SWITCHES_PER_MIN);
    // 10 min of flapping (30 flaps) costs about one switch a minute, fewer as the dwell grows.
    expect(switches.length).toBeLessThanOrEqual(12);
    const demotions = switches.filter((x) => x.s === 'demote').map((x) => x.t);
    const promotions = switches.filter((x) => x.s === 'promote').map((x) => x.t);
    const dwells = promotions.map((p, i) => p - demotions[i]!);
    for (let i = 1; i < dwells.length; i++) expect(dwells[i]!).toBeGreaterThan(dwells[i - 1]!);
  });

  it('the remote moved to the relay: demoted at once on 10 % of our own loss (its own rule needs 20 % for 1 s)', () => {
    const gate = new QualityGate();
    expect(run(gate, 10, (t) => (t < 5 ? 0 : QUALITY.FOLLOW_PCT))).toEqual([]);
    expect(gate.onSample(10_000, s(0), s(0), true)).toBeNull(); // ICE clean here: stay
    expect(gate.onSample(10_000, s(QUALITY.FOLLOW_PCT), s(0), false)).toBeNull(); // the remote still on ICE
    expect(gate.onSample(10_000, s(QUALITY.FOLLOW_PCT), s(0), true)).toBe('demote');
    expect(gate.demoted).toBe(true);
    expect(gate.onSample(10_500, s(50), s(0), true)).toBeNull(); // already demoted
    // The dwell holds as for a demotion of its own.
    const back = run(gate, 40, () => 0, 11);
    expect(back).toEqual([{ t: 10 + QUALITY.MIN_DWELL_MS / 1000, s: 'promote' }]);
  });

  it('an unmeasured ICE path (a new session) changes nothing: demoted stays demoted', () => {
    const gate = new QualityGate();
    run(gate, 5, () => 50);
    expect(gate.demoted).toBe(true);
    expect(run(gate, 120, () => null, 5)).toEqual([]);
    expect(gate.demoted).toBe(true);
  });
});

describe('networkReaction (pure)', () => {
  const change = { online: true, addressesRemoved: 0, addressesAdded: 0, defaultRouteChanged: false };
  it.each([
    {
      name: 'offline',
      c: { ...change, online: false },
      st: { parked: false, active: 'ice-direct' },
      want: [true, false, false],
    },
    { name: 'back online', c: change, st: { parked: true, active: 'none' }, want: [false, true, true] },
    {
      name: 'address gone',
      c: { ...change, addressesRemoved: 1 },
      st: { parked: false, active: 'ice-direct' },
      want: [false, true, true],
    },
    {
      name: 'route moved',
      c: { ...change, defaultRouteChanged: true },
      st: { parked: false, active: 'relay' },
      want: [false, true, true],
    },
    {
      name: 'address added, on relay',
      c: { ...change, addressesAdded: 1 },
      st: { parked: false, active: 'relay' },
      want: [false, true, true],
    },
    {
      name: 'address added, already direct',
      c: { ...change, addressesAdded: 1 },
      st: { parked: false, active: 'ice-direct' },
      want: [false, false, true],
    },
    { name: 'nothing', c: change, st: { parked: false, active: 'ice-direct' }, want: [false, false, false] },
  ] as const)('$name', ({ c, st, want }) => {
    const r = networkReaction(c, st);
    expect([r.park, r.rotateIce, r.kick]).toEqual(want);
  });
});
