import { seededRandom } from '@mesh/core/testing';
import { AUTH_MAGIC, MAX_MESSAGE_SIZE, PROTOCOL_VERSION } from '../protocol/constants.js';

/**
 * Yields `count` frames for fuzzing relay decoders and servers: pure noise, plausible frames of every
 * type (right version and type, random lengths, list lengths near multiples of 36, auth with and
 * without the magic), and mutations (bit flips, truncation, extension, wrong version/type).
 */
export function* fuzzFrames(seed: number, count: number, maxSize = MAX_MESSAGE_SIZE + 64): Generator<Buffer> {
  const rnd = seededRandom(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const bytes = (n: number) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  // Mostly small frames (fast), sometimes around the size limits.
  const length = () => {
    const r = rnd();
    if (r < 0.7) return int(120);
    if (r < 0.9) return int(400);
    return Math.min(maxSize, MAX_MESSAGE_SIZE - 40 + int(80));
  };
  const plausible = (): Buffer => {
    const type = 3 + int(9);
    let body: Buffer;
    if (type === 6) {
      body = Buffer.concat([
        Buffer.from(rnd() < 0.8 ? AUTH_MAGIC : [0x21, 0x12, 0xa4, int(256)]),
        bytes(36 + int(200)),
      ]);
    } else if (type >= 8) {
      const n = int(6) * 36 + (rnd() < 0.8 ? 0 : int(36));
      body = bytes(n);
    } else if (type === 4 || type === 5) {
      body = bytes(rnd() < 0.8 ? 0 : 1 + int(3));
    } else {
      body = bytes(type === 3 ? 36 + int(100) : int(length()));
    }
    return Buffer.concat([Buffer.from([PROTOCOL_VERSION, type]), body]);
  };
  for (let i = 0; i < count; i++) {
    const kind = rnd();
    if (kind < 0.25) {
      yield bytes(length());
      continue;
    }
    const frame = plausible();
    if (kind < 0.55) {
      yield frame;
      continue;
    }
    const m = int(5);
    if (m === 0 && frame.length > 0) {
      const at = int(frame.length);
      frame[at] = frame[at]! ^ (1 << int(8));
      yield frame;
    } else if (m === 1) {
      yield frame.subarray(0, int(frame.length + 1));
    } else if (m === 2) {
      yield Buffer.concat([frame, bytes(1 + int(40))]);
    } else if (m === 3) {
      frame[0] = int(4);
      yield frame;
    } else {
      frame[1] = int(256);
      yield frame;
    }
  }
}
