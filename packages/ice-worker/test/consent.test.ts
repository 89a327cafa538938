import { FakeClock, silentLogger } from '@mesh/core';
import { ConsentKeeper, consentHolds } from '@mesh/ice-worker';
import { describe, expect, it } from 'vitest';

describe('consentHolds (the rule once STUN consent lapsed)', () => {
  const T = 30_000;
  it.each([
    { name: 'never answered', lastAnswerMono: null, nowMono: 1_000, holds: false },
    { name: 'answered a moment ago', lastAnswerMono: 99_000, nowMono: 100_000, holds: true },
    { name: 'answered just inside the timeout', lastAnswerMono: 70_001, nowMono: 100_000, holds: true },
    { name: 'answered exactly one timeout ago', lastAnswerMono: 70_000, nowMono: 100_000, holds: false },
    { name: 'answered long ago', lastAnswerMono: 1_000, nowMono: 100_000, holds: false },
  ])('$name → $holds', ({ lastAnswerMono, nowMono, holds }) => {
    expect(consentHolds({ lastAnswerMono, nowMono, timeoutMs: T })).toBe(holds);
  });
});

describe('ConsentKeeper (FakeClock)', () => {
  const setup = () => {
    const clock = new FakeClock();
    let expired = 0;
    const keeper = new ConsentKeeper({ clock, log: silentLogger, onExpired: () => expired++ });
    return { clock, keeper, expired: () => expired };
  };

  it('keeps the session while answers arrive, and expires one timeout after the last', async () => {
    const { clock, keeper, expired } = setup();
    keeper.answered();
    await clock.advance(29_000);
    keeper.answered();
    expect(keeper.stunLapsed()).toBe(true);
    expect(keeper.soft).toBe(true);
    for (let i = 0; i < 60; i++) {
      await clock.advance(1_000);
      keeper.answered();
    }
    expect(expired()).toBe(0);
    await clock.advance(29_000);
    expect(expired()).toBe(0);
    await clock.advance(2_000);
    expect(expired()).toBe(1);
    expect(keeper.soft).toBe(false);
    await clock.advance(60_000);
    expect(expired()).toBe(1);
  });

  it('ends at once when nothing answered within the timeout (RFC 7675: never send to a silent party)', async () => {
    const { clock, keeper } = setup();
    keeper.answered();
    await clock.advance(30_000);
    expect(keeper.stunLapsed()).toBe(false);
    expect(keeper.stunLapsed()).toBe(false);
  });

  it('is quiet after stop()', async () => {
    const { clock, keeper, expired } = setup();
    keeper.answered();
    expect(keeper.stunLapsed()).toBe(true);
    keeper.stop();
    keeper.stop();
    await clock.advance(120_000);
    expect(expired()).toBe(0);
    expect(keeper.stunLapsed()).toBe(false);
  });
});
