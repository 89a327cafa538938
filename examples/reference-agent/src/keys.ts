import { randomBytes } from 'node:crypto';
import { publicKeyFromPrivate } from '@mesh/wg-control';

/**
 * A new private key exactly as `wg genkey` prints it: 32 random bytes clamped for X25519
 * (RFC 7748: clear the low 3 bits, clear the top bit, set bit 254), base64 and a newline.
 */
export function genkey(): string {
  const key = randomBytes(32);
  key[0]! &= 248;
  key[31]! &= 127;
  key[31]! |= 64;
  return `${key.toString('base64')}\n`;
}

/** `wg pubkey`: the private key on stdin (surrounding whitespace ignored) → its public key + newline. */
export function pubkey(privateKeyText: string): string {
  return `${publicKeyFromPrivate(privateKeyText.trim()).base64}\n`;
}

/** What `wg genkey` prints on stderr when its stdout is a file other users can read. */
export const WORLD_ACCESSIBLE_WARNING =
  'Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n';

/** `wg genkey`'s check of its stdout (`fstat(1)`): a regular file with any permission bit for others. */
export function isWorldAccessibleFile(stat: { isFile(): boolean; mode: number } | null): boolean {
  return stat?.isFile() === true && (stat.mode & 0o007) !== 0;
}
