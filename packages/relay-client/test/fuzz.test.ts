import { describe, expect, it } from 'vitest';
import {
  decodeClientMessage,
  decodeMessage,
  decodeServerMessage,
  encodeMessage,
  RelayProtocolError,
} from '../src/index.js';
import { fuzzFrames } from '../src/testing/index.js';

describe('decoder fuzz', () => {
  it('100,000 random and mutated frames: only RelayProtocolError escapes, decoded frames re-encode exactly', () => {
    const seed = Number(process.env.FUZZ_SEED ?? 0x5eed);
    const started = performance.now();
    const outcomes = { decoded: 0, rejected: 0 };
    let i = 0;
    for (const frame of fuzzFrames(seed, 100_000)) {
      for (const decode of [decodeMessage, decodeClientMessage, decodeServerMessage]) {
        try {
          const msg = decode(frame);
          outcomes.decoded++;
          // A frame the decoder accepts is canonical: re-encoding gives the same bytes.
          const again = encodeMessage(msg);
          if (again.length !== 1 || !again[0]!.equals(frame)) {
            throw new Error(`frame ${i} (seed ${seed}) did not round-trip: ${frame.toString('hex').slice(0, 80)}`);
          }
        } catch (e) {
          if (!(e instanceof RelayProtocolError)) {
            throw new Error(`frame ${i} (seed ${seed}) threw ${String(e)}: ${frame.toString('hex').slice(0, 80)}`);
          }
          outcomes.rejected++;
        }
      }
      i++;
    }
    expect(i).toBe(100_000);
    // Both paths exercised in earnest, in bounded time.
    expect(outcomes.decoded).toBeGreaterThan(20_000);
    expect(outcomes.rejected).toBeGreaterThan(20_000);
    expect(performance.now() - started).toBeLessThan(45_000); // ~2 s on an idle 2-core box
  }, 60_000);
});
