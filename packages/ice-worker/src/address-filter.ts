import { BlockList, isIP } from 'node:net';
import { InvalidArgumentError } from '@mesh/core';

/**
 * Addresses that must never take part in ICE: the WireGuard interface and the overlay range
 * (ICE must never run through the tunnel it carries). Entries are IPs or CIDRs, v4 or v6.
 */
export class AddressFilter {
  readonly #list = new BlockList();
  /** The IPs and CIDRs given, as given. */
  readonly entries: readonly string[];

  constructor(entries: readonly string[] = []) {
    this.entries = [...entries];
    for (const entry of entries) {
      const [ip, bits, extra] = entry.split('/');
      const family = isIP(ip ?? '');
      if (family === 0 || extra !== undefined) throw new InvalidArgumentError(`not an IP or CIDR: ${entry}`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) {
        this.#list.addAddress(ip!, type);
        continue;
      }
      const prefix = Number(bits);
      if (!/^\d+$/.test(bits) || prefix > (family === 4 ? 32 : 128)) {
        throw new InvalidArgumentError(`bad prefix length: ${entry}`);
      }
      this.#list.addSubnet(ip!, prefix, type);
    }
  }

  /** True when `address` is excluded. Unparseable addresses (mDNS names…) are excluded too. */
  excludes(address: string | undefined): boolean {
    if (address === undefined) return false;
    const bare = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    const family = isIP(bare);
    if (family === 0) return true;
    return this.#list.check(bare, family === 4 ? 'ipv4' : 'ipv6');
  }
}
