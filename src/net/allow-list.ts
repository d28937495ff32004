// Client addresses allowed to reach a service: exact addresses and CIDR ranges (Prosody's
// openmetrics_allow_ips / openmetrics_allow_cidr). Behind i2pd every visitor arrives from
// loopback, so an allow list alone does not keep I2P visitors out (src/ops/access.ts does).
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** The client addresses allowed: exact addresses and CIDR ranges, IPv4 or IPv6. */
export class AllowList {
  private readonly list = new BlockList();
  private empty = true;

  /** Throws Error naming the entry when one is not an address or range. */
  constructor(ips: readonly string[], cidrs: readonly string[]) {
    for (const ip of ips) {
      const type = family(ip);
      if (!type) throw new Error(`'${ip}' is not an IP address`);
      this.list.addAddress(ip, type);
      this.empty = false;
    }
    for (const cidr of cidrs) {
      const [net, bits, extra] = cidr.split('/');
      const type = family(net ?? '');
      const prefix = Number(bits);
      if (!type || extra !== undefined || !/^\d+$/.test(bits ?? '') || prefix > (type === 'ipv4' ? 32 : 128)) throw new Error(`'${cidr}' is not an address range like 127.0.0.0/8`);
      this.list.addSubnet(net as string, prefix, type);
      this.empty = false;
    }
  }

  /** Whether `address` (as a socket reports it; IPv4-mapped IPv6 counts as IPv4) is allowed. */
  allows(address: string | undefined): boolean {
    if (!address || this.empty) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const ip = mapped ?? address;
    const type = family(ip);
    return type !== undefined && this.list.check(ip, type);
  }
}

function family(ip: string): 'ipv4' | 'ipv6' | undefined {
  return isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : undefined;
}
