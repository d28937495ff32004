// The darknet route decision, pure (no I/O): which remote domains go through i2pd's SOCKS5 proxy
// and which are refused. It lives in the net layer because it is built in: the darknet module
// only feeds it darknet_map and logs, and with that module disabled decideRoute still applies
// it, so an .i2p name never reaches DNS and darknet_only never falls back to the clearnet.
// References: RFC 1928 (SOCKS5); docs/architecture.md ("What the design rests on", the remote walk).
import type { DarknetTarget } from '../config/schema.js';
import type { Route } from './connector.js';

/** The options routeFor needs, as the config normalises them. */
export interface DarknetOptions {
  /** darknet_only: refuse every domain that is neither .i2p nor mapped. */
  only: boolean;
  /** darknet_map: lower-cased domain → { host, port } (the config layer fills in port 5269). */
  map: Readonly<Record<string, DarknetTarget>>;
  proxyHost: string;
  proxyPort: number;
}

const XMPP_SERVER_PORT = 5269;

/** A domain as routing compares it: lower-case, without the trailing root dot. */
export function normaliseDomain(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.$/, '');
}

/** True for names i2pd cannot resolve: anything below `<b32>.b32.i2p`, like conference.x.b32.i2p. */
export function isB32Subdomain(domain: string): boolean {
  return domain.endsWith('.b32.i2p') && domain.split('.').length > 3;
}

/** The b32 address a b32 subdomain lives under: `x.b32.i2p` for `conference.x.b32.i2p`. */
export function b32Parent(domain: string): string {
  return domain.split('.').slice(-3).join('.');
}

/**
 * Whether a peer's certificate can prove `domain` (s2s_secure_auth): not for .i2p names, which no
 * CA signs (docs/architecture.md); dialback authenticates those. Stream code asks this, never the suffix.
 */
export function certificateCanProve(domain: string): boolean {
  return !normaliseDomain(domain).endsWith('.i2p');
}

/** Why darknet_only refuses a clearnet domain, in words an operator can act on. */
export function clearnetRefusal(domain: string): string {
  return `darknet_only is on: ${domain} is a clearnet domain (not .i2p) with no darknet_map entry, and Clove never dials clearnet hosts unless darknet_only = false`;
}

/** The route for `domain` (pure, no I/O): mapped first, then a b32 subdomain via its b32 address, then .i2p, then refused under darknet_only; undefined leaves it to the default (direct). */
export function routeFor(domain: string, opts: DarknetOptions): Route | undefined {
  const d = normaliseDomain(domain);
  const proxy = { kind: 'socks5' as const, proxyHost: opts.proxyHost, proxyPort: opts.proxyPort };
  // Object.hasOwn: a remote domain named "constructor" must not find Object.prototype's.
  const mapped = Object.hasOwn(opts.map, d) ? opts.map[d] : undefined;
  if (mapped) return { ...proxy, host: mapped.host, port: mapped.port, reason: 'mapped' };
  // i2pd cannot resolve conference.x.b32.i2p: dial x.b32.i2p; the stream's `to` still names the
  // subdomain, which a Clove peer hosting it as a component accepts (docs/i2p.md).
  if (isB32Subdomain(d)) return { ...proxy, host: b32Parent(d), port: XMPP_SERVER_PORT, reason: 'b32-parent' };
  if (d.endsWith('.i2p')) return { ...proxy, host: d, port: XMPP_SERVER_PORT, reason: 'i2p' };
  if (opts.only) return { kind: 'refused', reason: clearnetRefusal(d) };
  return undefined;
}
