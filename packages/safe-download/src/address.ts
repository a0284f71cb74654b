import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { DownloadError } from './errors.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to all its addresses; replaceable in tests. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) => {
  const answers = await lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/**
 * The ipaddr.js range name of an address ('unicast' for ordinary public addresses). IPv4-mapped
 * IPv6 addresses (::ffff:a.b.c.d) are classified as the IPv4 address they carry.
 */
export function addressRange(address: string): string {
  return ipaddr.process(address).range();
}

/**
 * Only plain public unicast is reachable. Everything else is refused: loopback, RFC 1918,
 * link-local (cloud metadata at 169.254.169.254), CGNAT, multicast, broadcast, unspecified,
 * reserved/documentation ranges, IPv6 unique-local, and the IPv6 transition ranges (6to4, Teredo,
 * NAT64) that can tunnel to an IPv4 address we would otherwise refuse.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return addressRange(address) === 'unicast';
}

/** `[::1]` → `::1`, `example.com.` → `example.com`, lower case. */
export function normaliseHostname(hostname: string): string {
  let host = hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}

/**
 * Resolves `hostname` and checks every address it resolves to. Returns the address to connect to,
 * so the caller can pin the connection to exactly what was checked.
 */
export async function resolveChecked(
  hostname: string,
  opts: { allowPrivateAddresses: boolean; resolver: Resolver; url: string },
): Promise<ResolvedAddress> {
  let addresses: ResolvedAddress[];
  const family = isIP(hostname);
  if (family !== 0) {
    addresses = [{ address: hostname, family: family === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await opts.resolver(hostname);
    } catch (cause) {
      throw new DownloadError('DNS_FAILED', `cannot resolve ${hostname}`, { url: opts.url, cause });
    }
  }
  const first = addresses[0];
  if (!first) throw new DownloadError('DNS_FAILED', `${hostname} has no address`, { url: opts.url });
  if (!opts.allowPrivateAddresses) {
    // One bad answer refuses the host: a resolver may rotate the order between lookups.
    const refused = addresses.find((a) => !isPublicAddress(a.address));
    if (refused) {
      const range = ipaddr.isValid(refused.address) ? addressRange(refused.address) : 'invalid';
      throw new DownloadError(
        'PRIVATE_ADDRESS',
        `${hostname} resolves to ${refused.address} (${range}), which is not a public address`,
        { url: opts.url },
      );
    }
  }
  return first;
}
