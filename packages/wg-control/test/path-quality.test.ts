import { describe, expect, it } from 'vitest';
import { PROBE_LOSS_TIMEOUT_MS, QUALITY_MIN_SAMPLES, QUALITY_WINDOW } from '../src/constants.js';
import { lossPercent, PathQuality, smoothRtt } from '../src/path-quality.js';

describe('lossPercent', () => {
  it.each([
    { lost: 0, judged: 0, expected: null },
    { lost: 1, judged: 4, expected: null }, // below QUALITY_MIN_SAMPLES
    { lost: 0, judged: 5, expected: 0 },
    { lost: 3, judged: 10, expected: 30 },
    { lost: 5, judged: 5, expected: 100 },
    { lost: 1, judged: 8, expected: 12.5 },
  ])('$lost lost of $judged judged → $expected', ({ lost, judged, expected }) => {
    expect(lossPercent(lost, judged)).toBe(expected);
  });

  it('takes its own minimum, never below one sample', () => {
    expect(lossPercent(1, 2, 2)).toBe(50);
    expect(lossPercent(0, 0, 0)).toBeNull();
  });
});

describe('smoothRtt', () => {
  it.each([
    { srtt: null, sample: 40, expected: 40 }, // the first sample as is
    { srtt: 40, sample: 40, expected: 40 },
    { srtt: 40, sample: 120, expected: 50 }, // 40 + (120 - 40) / 8
    { srtt: 80, sample: 0, expected: 70 },
  ])('srtt $srtt, sample $sample → $expected', ({ srtt, sample, expected }) => {
    expect(smoothRtt(srtt, sample)).toBe(expected);
  });
});

describe('PathQuality', () => {
  it('judges a probe answered by its pong, lost once the timeout passed without one', () => {
    const q = new PathQuality();
    q.sent(0);
    q.sent(1000);
    expect(q.pong(0, 30)).toEqual({ answered: true, rttMs: 30 });
    expect(q.expireOne(1000 + PROBE_LOSS_TIMEOUT_MS, true)).toBe(false); // not yet: exactly the timeout
    expect(q.expireOne(1001 + PROBE_LOSS_TIMEOUT_MS, true)).toBe(true);
    expect(q.expireOne(1001 + PROBE_LOSS_TIMEOUT_MS, true)).toBe(false);
    expect(q).toMatchObject({ probesInWindow: 2, rttMs: 30, srttMs: 30, lossPct: null });
  });

  it('a late pong keeps its probe lost (judged once) but counts as an RTT sample, once', () => {
    const q = new PathQuality();
    q.sent(0);
    q.sent(10);
    expect(q.expireOne(PROBE_LOSS_TIMEOUT_MS + 1, true)).toBe(true);
    expect(q.pong(0, 2500)).toBeUndefined(); // judged lost already
    expect(q.pong(0, 2600)).toBeUndefined(); // a duplicate: nothing
    expect(q).toMatchObject({ rttMs: 2500, srttMs: 2500, probesInWindow: 1 });
    // Not expired yet, but later than the timeout: lost, whether or not expireOne got to it.
    expect(q.pong(10, 10 + PROBE_LOSS_TIMEOUT_MS + 100)).toEqual({ answered: false, rttMs: null });
    expect(q.probesInWindow).toBe(2);
    expect(q.srttMs).toBe(2500 + (PROBE_LOSS_TIMEOUT_MS + 100 - 2500) / 8);
  });

  it('ignores pongs it has no ping for, duplicates and implausible times', () => {
    const q = new PathQuality();
    q.sent(100);
    expect(q.pong(99, 150)).toBeUndefined();
    expect(q.pong(100, 50)).toBeUndefined(); // from the future
    expect(q.pong(100, 130)).toEqual({ answered: true, rttMs: 30 });
    expect(q.pong(100, 140)).toBeUndefined();
    expect(q).toMatchObject({ probesInWindow: 1, rttMs: 30 });
  });

  it('keeps the last QUALITY_WINDOW judged probes; forgets unanswered ones while not judging', () => {
    const q = new PathQuality();
    for (let i = 0; i < QUALITY_WINDOW; i++) {
      q.sent(i * 1000);
      q.expireOne(i * 1000 + PROBE_LOSS_TIMEOUT_MS + 1, false);
    }
    expect(q.probesInWindow).toBe(0);
    let t = 100_000;
    for (let i = 0; i < QUALITY_WINDOW; i++, t += 1000) {
      q.sent(t);
      q.expireOne(t + PROBE_LOSS_TIMEOUT_MS + 1, true);
    }
    expect(q).toMatchObject({ probesInWindow: QUALITY_WINDOW, lossPct: 100 });
    for (let i = 0; i < 3; i++, t += 1000) {
      q.sent(t);
      q.pong(t, t + 5);
    }
    expect(q).toMatchObject({ probesInWindow: QUALITY_WINDOW, lossPct: 70 });
    expect(QUALITY_MIN_SAMPLES).toBeLessThanOrEqual(QUALITY_WINDOW);
  });
});
