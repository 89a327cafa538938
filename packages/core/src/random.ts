import { randomBytes, randomInt } from 'node:crypto';

/** A uniform number in [0, 1) from node:crypto (all mesh randomness comes from here). */
export function cryptoRandom(): number {
  return randomInt(0, 2 ** 47) / 2 ** 47;
}

/** `n` random bytes as lowercase hex. */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** A uniform integer in [min, max). */
export function randomIntBetween(min: number, max: number): number {
  return randomInt(min, max);
}
